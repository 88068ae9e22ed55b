// The verdict in words on the page. No word is written here: the templates and the dataset's
// words come from mnist_demo/recognition/wording.py in the model payload (extras.wording), and
// this fills them exactly as wording.render does on the server. canvas.py runs it as part of the
// pad's own script, so that the page still words the server's answers when its other scripts
// cannot load. tests/test_wording.py runs both on the same probabilities.
(function (root) {
  "use strict";

  // Each {name} in the template replaced by values[name] (wording.fill).
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (_, name) => values[name]);
  }

  // round(value * 100) as Python rounds it, halves to the even neighbour (wording.percent).
  function percent(value) {
    const scaled = value * 100;
    const rounded = Math.round(scaled);
    return (rounded - scaled === 0.5 && rounded % 2 !== 0 ? rounded - 1 : rounded) + "%";
  }

  // Entropy as a fraction of its maximum, summed in class order (wording.spread).
  function spread(probabilities) {
    let total = 0;
    for (const p of probabilities) if (p > 0) total += p * Math.log(p);
    return -total / Math.log(probabilities.length);
  }

  // The first class of the highest probability, as Python's max() picks it.
  function topIndex(probabilities) {
    let top = 0;
    probabilities.forEach((p, i) => { if (p > probabilities[top]) top = i; });
    return top;
  }

  // mnist_demo.recognition.verdict: at or above "sure" positive, below "unsure" negative.
  function role(top, extras) {
    if (top >= extras.sure) return "positive";
    return top >= extras.unsure ? "unsure" : "negative";
  }

  // kind: "hint" or "readout"; probabilities in the order of names, or null for an empty pad;
  // extras: the payload's (thresholds, the model's description, the wording table).
  function say(kind, probabilities, names, extras) {
    const wording = extras.wording;
    const values = { ...wording.words, model: extras.description };
    if (!probabilities) return fill(wording[kind].blank, values);
    const top = topIndex(probabilities);
    values.top = names[top];
    values.confidence = percent(probabilities[top]);
    values.spread = percent(spread(probabilities));
    return fill(wording[kind][role(probabilities[top], extras)], values);
  }

  root.mnistWording = { say, fill, percent, spread, role, topIndex };
})(typeof window !== "undefined" ? window : globalThis);
