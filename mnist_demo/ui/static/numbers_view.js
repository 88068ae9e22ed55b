// How the pad shows a whole number (static/numbers.js's reading): the number above the pad, each
// digit's box over the drawing with its class and confidence (the least sure one marked), the
// digits' 28x28 inputs in a strip, and the hint. Every word is wording.py's (extras.wording.number),
// filled by static/wording.js. A lone digit is not shown here: the pad keeps its own display.
(function (root) {
  "use strict";
  const words = () => root.mnistWording;

  function topProbability(digit) {
    return digit.probabilities ? Math.max(...digit.probabilities) : 0;
  }

  // The position of the least sure digit (the first, on a tie), or -1 when there is none.
  function leastSure(reading) {
    let least = -1;
    reading.digits.forEach((digit, i) => {
      if (least < 0 || topProbability(digit) < topProbability(reading.digits[least])) least = i;
    });
    return least;
  }

  function tag(digit) {
    if (!digit.probabilities) return digit.verdict;
    return `${digit.top} · ${words().percent(topProbability(digit))}`;
  }

  function values(reading, extras) {
    const least = leastSure(reading);
    const reason = reading.reason || "";
    return {
      ...extras.wording.words,
      number: reading.number,
      count: String(reading.digits.length),
      least: least < 0 ? "" : root.mnistNumbers.ordinal(least + 1),
      confidence: least < 0 ? "" : words().percent(topProbability(reading.digits[least])),
      model: extras.description,
      reason,
      Reason: reason.charAt(0).toUpperCase() + reason.slice(1),
    };
  }

  const ROLE = { number: "number", unsure: "unsure" };  // Anything else: "negative".

  function say(kind, reading, extras) {
    const role = ROLE[reading.verdict] || "negative";
    return words().fill(extras.wording.number[`${kind}_${role}`], values(reading, extras));
  }

  function pictureUrl(picture) {
    const small = document.createElement("canvas");
    small.width = small.height = 28;
    const image = small.getContext("2d").createImageData(28, 28);
    picture.forEach((v, i) => { image.data.set([v, v, v, 255], 4 * i); });
    small.getContext("2d").putImageData(image, 0, 0);
    return small.toDataURL("image/png");
  }

  // The strip of 28x28 inputs, for the "What the model sees" panel (clickable figures).
  function strip(reading, selected) {
    const least = leastSure(reading);
    const figures = reading.digits.map((digit, i) => {
      const classes = ["digit"];
      if (i === selected) classes.push("selected");
      if (i === least) classes.push("least");
      const image = digit.picture
        ? `<img src="${pictureUrl(digit.picture)}" width="84" height="84" alt="Digit ${i + 1} as the model sees it">`
        : `<span class="none"></span>`;
      return `<figure class="${classes.join(" ")}" data-digit="${i}" title="Look inside this digit">` +
        `${image}<figcaption>${tag(digit)}</figcaption></figure>`;
    });
    return `<div class="digit-strip">${figures.join("")}</div>`;
  }

  // Each digit's box over the canvas, in percentages of its size (the overlay scales with it).
  function drawBoxes(layer, reading, selected, height, width) {
    const least = leastSure(reading);
    layer.replaceChildren(...reading.digits.map((digit, i) => {
      const box = document.createElement("div");
      box.className = "digit-box" + (i === least ? " least" : "") + (i === selected ? " selected" : "");
      box.style.top = `${(100 * digit.box.top) / height}%`;
      box.style.left = `${(100 * digit.box.left) / width}%`;
      box.style.height = `${(100 * (digit.box.bottom - digit.box.top)) / height}%`;
      box.style.width = `${(100 * (digit.box.right - digit.box.left)) / width}%`;
      const label = document.createElement("button");
      label.type = "button";
      label.className = "digit-tag";
      label.dataset.digit = String(i);
      label.textContent = tag(digit);
      label.title = "Look inside this digit";
      box.appendChild(label);
      return box;
    }));
  }

  // The Label's value: the selected digit's probabilities (empty for a refused drawing).
  function label(reading, selected, names) {
    const digit = reading.digits[selected];
    if (!digit || !digit.probabilities) return { label: null, confidences: [] };
    return {
      label: digit.top,
      confidences: names.map((name, i) => ({ label: name, confidence: digit.probabilities[i] }))
        .sort((a, b) => b.confidence - a.confidence),
    };
  }

  // The digit's own ink as a PNG data URL (what the server's panels then look inside).
  function inkUrl(digit) {
    if (!digit || !digit.ink) return "";
    const { data, height, width } = digit.ink;
    const surface = document.createElement("canvas");
    surface.width = width;
    surface.height = height;
    const image = surface.getContext("2d").createImageData(width, height);
    data.forEach((v, i) => { image.data[4 * i + 3] = v; });
    surface.getContext("2d").putImageData(image, 0, 0);
    return surface.toDataURL("image/png");
  }

  // The number shown and the digit the probabilities and the "Inside" panels follow.
  // Until the visitor clicks a digit, the least sure one; a click holds while the count holds.
  let shown = null, selected = 0, clicked = false;

  // The drawing on the pad's canvas read as a number (null if the reader fails: one digit then);
  // cuts false while the pen moves (see numbers.js).
  function read(pixels, canvas, payload, layers, cuts) {
    try {
      return root.mnistNumbers.read(pixels, canvas.height, canvas.width, payload, layers, cuts);
    } catch (error) {
      console.warn("mnist-demo: reading the drawing as a number failed", error);
      return null;
    }
  }

  // Shows a number on the pad; returns the pad's answer: readout, and what the outputs take.
  function present(element, reading, payload, canvas) {
    if (!shown || shown.digits.length !== reading.digits.length) clicked = false;
    if (!clicked) selected = leastSure(reading);
    shown = reading;
    const layer = element.querySelector(".digit-boxes");
    if (layer) drawBoxes(layer, reading, selected, canvas.height, canvas.width);
    element.classList.add("reads-number");
    const digit = reading.digits[selected];
    return {
      readout: say("readout", reading, payload.extras),
      hint: say("hint", reading, payload.extras),
      label: label(reading, selected, payload.class_names),
      picture: reading.digits.length ? strip(reading, selected) : "",
      probabilities: digit ? digit.probabilities : null,
      number: reading,
      selected,
    };
  }

  // Follow digit ``index`` of the number shown; false when there is no such digit.
  function select(index) {
    if (!shown || !(index >= 0 && index < shown.digits.length)) return false;
    selected = index;
    clicked = true;
    return true;
  }

  function clear(element) {
    shown = null;
    const layer = element.querySelector(".digit-boxes");
    if (layer) layer.replaceChildren();
    element.classList.remove("reads-number");
  }

  root.mnistNumberView = {
    read, present, select, clear, leastSure, strip,
    current: () => shown,
    chosenInk: () => (shown ? inkUrl(shown.digits[selected]) : ""),
  };
})(typeof window !== "undefined" ? window : globalThis);
