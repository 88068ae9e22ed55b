// The page's copy of mnist_demo/numbers/read.py: a drawing of a whole number -> its digits, each
// read by preprocess.js and cnn.js exactly as a lone digit is, with the cuts chosen by which one
// this page's own network is surest about. A drawing that is one piece is read exactly as a lone
// digit (the whole canvas). Needs numbers_segment.js and numbers_cuts.js; the constants are the
// payload's (extras.numbers: SegmentSettings.to_dict()), the words wording.py's (extras.wording.number).
(function (root) {
  "use strict";
  const seg = () => root.mnistNumberSegment;
  const cutsOf = () => root.mnistNumberCuts;

  function ordinal(position) {
    const teen = position % 100 >= 10 && position % 100 <= 20;
    const suffix = teen ? "th" : { 1: "st", 2: "nd", 3: "rd" }[position % 10] || "th";
    return position + suffix;
  }

  function places(positions) {
    const named = positions.map(ordinal);
    return named.length === 1 ? named[0] : named.slice(0, -1).join(", ") + " and " + named[named.length - 1];
  }

  function say(key, values, extras) {
    const fill = root.mnistWording.fill;
    return fill(extras.wording.number[key], { ...extras.wording.words, ...values });
  }

  // judged: the number's verdict from its digits' (one piece that is no digit: no number).
  function judged(digits, leftOut, extras) {
    const [digitWord, unsureWord] = extras.words;
    const number = digits.map((d) => d.top === null ? "?" : d.top).join("");
    const rejected = [], doubted = [];
    digits.forEach((d, i) => {
      if (d.verdict === unsureWord) doubted.push(i + 1);
      else if (d.verdict !== digitWord) rejected.push(i + 1);
    });
    const reading = { number, digits, verdict: "number", reason: "", left_out: leftOut };
    if (rejected.length) {
      reading.verdict = "not a number";
      reading.reason = say(rejected.length === 1 ? "rejected_one" : "rejected_many", { places: places(rejected) }, extras);
    } else if (doubted.length) {
      reading.verdict = "unsure";
      reading.reason = say(doubted.length === 1 ? "doubted_one" : "doubted_many", { places: places(doubted) }, extras);
    }
    return reading;
  }

  function refused(key, values, extras) {
    const reason = say("refused", { reason: say(key, values, extras) }, extras);
    return { number: "", digits: [], verdict: "not a number", reason, left_out: 0 };
  }

  // The network's answers to the last pictures it saw, per compiled model: a stroke changes one
  // or two digits of a number, so the others' 28x28 inputs, and so their answers, are the same.
  const remembered = new WeakMap();
  const REMEMBER = 256;
  function probabilitiesOf(prepared, layers) {
    if (!remembered.has(layers)) remembered.set(layers, new Map());
    const answers = remembered.get(layers), key = String.fromCharCode.apply(null, prepared.picture);
    let probabilities = answers.get(key);
    if (!probabilities) {
      probabilities = root.mnistCnn.softmax(root.mnistCnn.forward(layers, prepared.tensor, [1, 28, 28]));
      if (answers.size >= REMEMBER) answers.delete(answers.keys().next().value);
      answers.set(key, probabilities);
    }
    return probabilities;
  }

  // One prepared input -> {probabilities, top, verdict, picture, reason} (verdict "" when blank).
  function predictPrepared(prepared, payload, layers) {
    if (prepared.blank) return { blank: true, probabilities: null, top: null, verdict: "", reason: prepared.reason };
    const probabilities = probabilitiesOf(prepared, layers);
    const wording = root.mnistWording, extras = payload.extras;
    const top = wording.topIndex(probabilities);
    const verdict = extras.words[["positive", "unsure", "negative"].indexOf(wording.role(probabilities[top], extras))];
    return { blank: false, probabilities, top: payload.class_names[top], verdict, picture: prepared.picture };
  }

  const pieceKey = (p) => `${p.box.top},${p.box.left},${p.box.bottom},${p.box.right}:${p.members.join(",")}`;
  const cutKey = (c) => (c ? `${c.kind}@${c.valley}:${c.key}` : "-");

  // Reads the parts of one drawing, each part once, within a budget (read.py's Reader).
  function makeReader(ink, height, width, found, payload, layers, s) {
    const { grid, labels } = found, seen = new Map(), inks = new Map();
    let readsLeft = s.max_reads;
    function pieceInk(piece) {
      const key = pieceKey(piece);
      if (!inks.has(key)) {
        const box = seg().toCanvas(grid, piece.box, height, width), f = grid.factor;
        const mask = seg().pieceMask(grid, labels, piece);
        const h = box.bottom - box.top, w = box.right - box.left, own = new Uint8Array(h * w);
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            if (mask.cells[Math.floor(y / f) * mask.width + Math.floor(x / f)]) {
              own[y * w + x] = ink[(box.top + y) * width + box.left + x];
            }
          }
        }
        inks.set(key, { ink: own, box, height: h, width: w, mask });
      }
      return inks.get(key);
    }
    function read(piece, part) {
      const key = pieceKey(piece) + "|" + cutKey(part[0]) + "|" + cutKey(part[1]);
      if (!seen.has(key)) {
        const own = pieceInk(piece), f = grid.factor, h = own.height, w = own.width;
        const partInk = new Uint8Array(h * w);
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            if (cutsOf().inside(part, y, x, f)) partInk[y * w + x] = own.ink[y * w + x];
          }
        }
        // Judged as a digit on its own canvas: a small digit in a big drawing is no speck.
        const prepared = root.mnistPreprocess.preprocess(partInk, h, w, payload.preprocess);
        const b = prepared.box || { top: 0, left: 0, bottom: h, right: w };
        const placed = { top: own.box.top + b.top, left: own.box.left + b.left,
          bottom: own.box.top + b.bottom, right: own.box.left + b.right };
        seen.set(key, { prediction: predictPrepared(prepared, payload, layers), box: placed, ink: partInk,
          height: h, width: w });
      }
      return seen.get(key);
    }
    function score(piece, part) {
      const key = pieceKey(piece) + "|" + cutKey(part[0]) + "|" + cutKey(part[1]);
      if (!seen.has(key)) {
        if (readsLeft <= 0) return null;
        readsLeft -= 1;
      }
      const { prediction } = read(piece, part);
      if (prediction.blank) return null;
      const names = payload.class_names;
      return Math.log(Math.max(prediction.probabilities[names.indexOf(prediction.top)], 1e-12));
    }
    return { read, score, reads: () => s.max_reads - readsLeft };
  }

  // merge_close: join close neighbours the model reads surer as one digit than as two.
  function mergeClose(pieces, reader, s, merges) {
    pieces = [...pieces];
    const whole = [null, null], close = seg().closeNeighbours(pieces, s);
    for (const index of close.reverse()) {
      const first = pieces[index], second = pieces[index + 1], together = seg().joined(first, second);
      const scores = [first, second, together].map((piece) => reader.score(piece, whole));
      if (scores.includes(null)) continue;
      const apart = scores[0] + scores[1] - 2 * s.cut_cost, one = scores[2] - s.cut_cost > apart;
      merges.push({ first: first.box, second: second.box, apart, together: scores[2], joined: one });
      if (one) pieces.splice(index, 2, together);
    }
    return pieces;
  }

  function partsOf(piece, reader, found, s, median, splits, cuts) {
    const mask = seg().pieceMask(found.grid, found.labels, piece);
    const whole = [[null, null]];
    if (mask.width <= s.split_aspect * mask.height || mask.height < s.fragment_fraction * median) return whole;
    if (!cuts) return whole;  // A quick read while the pen moves: no piece is cut.
    if (mask.width <= s.force_aspect * mask.height) {
      const score = reader.score(piece, [null, null]);
      if (score === null || score >= Math.log(s.keep_above)) {
        splits.push({ piece: piece.box, kept: true, whole: score, candidates: [], parts: whole });
        return whole;
      }
    }
    const { parts, candidates } = cutsOf().bestParts(mask, (part) => reader.score(piece, part), s);
    splits.push({ piece: piece.box, kept: false, candidates, parts });
    return parts;
  }

  // read: {number, digits, verdict, reason, left_out, lone, steps}; ink as the canvas gives it.
  // cuts: true, read.py's reading exactly; false (while the pen moves), no piece is cut;
  // "pieces", pieces are cut only when there are several (one piece of ink stays one digit).
  function read(ink, height, width, payload, layers, cuts = true) {
    const s = payload.extras.numbers, extras = payload.extras;
    let found;
    try {
      found = seg().segment(ink, height, width, s, payload.preprocess);
    } catch (error) {
      if (!(error instanceof seg().TooMuchInk)) throw error;
      const reading = refused(error.key, error.values, extras);
      return Object.assign(reading, { lone: false, steps: null });
    }
    const lone = () => {
      const prepared = root.mnistPreprocess.preprocess(ink, height, width, payload.preprocess);
      const prediction = predictPrepared(prepared, payload, layers);
      return { prepared, prediction };
    };
    if (!found) return { number: "", digits: [], verdict: "", reason: "nothing drawn", lone: true, steps: null };
    const steps = { ...found.steps, grid: found.grid, ordered: found.pieces, specks: found.specks,
      merges: [], splits: [], parts: [] };
    if (found.pieces.length > s.max_pieces) {
      const count = found.pieces.length;
      return Object.assign(refused("too_many_pieces", { count, most: s.max_pieces }, extras), { lone: false, steps });
    }
    const reader = makeReader(ink, height, width, found, payload, layers, s);
    const pieces = mergeClose(found.pieces, reader, s, steps.merges);
    if (cuts === "pieces") cuts = pieces.length > 1;
    steps.uncut = !cuts;
    const median = seg().median(pieces.map((p) => seg().heightOf(p.box)));
    const parts = [];
    for (const piece of pieces) {
      for (const part of partsOf(piece, reader, found, s, median, steps.splits, cuts)) {
        parts.push([piece, part]);
      }
    }
    steps.merged = pieces;
    steps.reads = reader.reads();
    if (parts.length > s.max_pieces) {
      return Object.assign(refused("too_many_digits", { count: parts.length, most: s.max_pieces }, extras),
        { lone: false, steps });
    }
    if (parts.length === 1) {
      const { prepared, prediction } = lone();
      if (prediction.blank) return { number: "", digits: [], verdict: "", reason: prediction.reason, lone: true, steps };
      const digit = Object.assign(prediction, { box: prepared.box, ink: null });
      return Object.assign(judged([digit], 0, extras), { lone: true, steps, prepared });
    }
    const digits = parts.map(([piece, part]) => {
      const got = reader.read(piece, part), p = got.prediction;
      steps.parts.push(got.box);
      return Object.assign({}, p, { verdict: p.verdict || extras.words[2], box: got.box,
        ink: { data: got.ink, height: got.height, width: got.width } });
    });
    const middle = (d) => (d.box.left + d.box.right) / 2;
    digits.sort((a, b) => middle(a) - middle(b));
    return Object.assign(judged(digits, found.specks.length, extras), { lone: false, steps });
  }

  root.mnistNumbers = { read, ordinal, places };
})(typeof window !== "undefined" ? window : globalThis);
