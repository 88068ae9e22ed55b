// The pad's "How it splits" panel: the steps static/numbers.js took on the current drawing (its
// own record of them, no second segmentation), each as a small picture of the working grid with
// the pieces' boxes and one sentence: the blobs of ink, dots, overlaps, fragments, close
// neighbours, cuts and the digits read. Drawn only while the panel is open.
(function (root) {
  "use strict";
  const COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777"];
  const SIDE = 160;  // Each picture's longer side, in pixels.
  let shown = null;  // {reading, words}: what the panel shows (or will, once opened).

  // The grid's ink, each box in colour, and any cuts: box coordinates on the grid.
  function picture(grid, boxes, cuts) {
    const scale = SIDE / Math.max(grid.height, grid.width);
    const surface = document.createElement("canvas");
    surface.width = Math.ceil(grid.width * scale);
    surface.height = Math.ceil(grid.height * scale);
    const context = surface.getContext("2d");
    context.fillStyle = "#fff";
    context.fillRect(0, 0, surface.width, surface.height);
    context.fillStyle = "#9ca3af";
    for (let y = 0; y < grid.height; y++) {
      for (let x = 0; x < grid.width; x++) {
        if (grid.mask[y * grid.width + x]) context.fillRect(x * scale, y * scale, scale, scale);
      }
    }
    context.lineWidth = 2;
    boxes.forEach((box, i) => {
      context.strokeStyle = COLOURS[i % COLOURS.length];
      context.strokeRect(box.left * scale + 1, box.top * scale + 1,
        (box.right - box.left) * scale - 2, (box.bottom - box.top) * scale - 2);
    });
    for (const { columns, top, left, chosen } of cuts) {
      context.strokeStyle = chosen ? "#111" : "rgba(0, 0, 0, 0.25)";
      context.lineWidth = chosen ? 2 : 1;
      context.beginPath();
      columns.forEach((column, row) => {
        const x = (left + column) * scale, y = (top + row) * scale;
        if (row === 0) context.moveTo(x, y); else context.lineTo(x, y);
        context.lineTo(x, y + scale);
      });
      context.stroke();
    }
    surface.className = "step-picture";
    return surface;
  }

  // A canvas box -> the same region on the grid.
  function onGrid(grid, box) {
    const f = grid.factor;
    return { top: Math.floor((box.top - grid.top) / f), left: Math.floor((box.left - grid.left) / f),
      bottom: Math.ceil((box.bottom - grid.top) / f), right: Math.ceil((box.right - grid.left) / f) };
  }

  // The steps as {title, text, boxes, cuts}: what the panel shows and the tests check. The words
  // are mnist_demo/teaching/splits.py's (extras.splits), filled by static/wording.js.
  function describe(reading, words) {
    const fill = root.mnistWording.fill;
    const count = (n, noun) => `${n} ${words.nouns[noun][n === 1 ? 0 : 1]}`;
    const step = (name, values, boxes, cuts = []) => ({
      title: words.steps[name][0], text: fill(words.steps[name][1], values || {}), boxes, cuts,
    });
    const steps = reading.steps, grid = steps.grid, boxes = (pieces) => pieces.map((p) => p.box);
    const joinedDots = steps.blobs.length - steps.dots.length - steps.specks.length;
    const list = [
      step("blobs", { blobs: count(steps.blobs.length, "blob"),
        grid: grid.factor > 1 ? fill(words.steps.grid[1], { factor: grid.factor }) : "" },
      boxes(steps.blobs)),
      step("dots", { joined: count(joinedDots, "dot"), specks: count(steps.specks.length, "speck") },
        boxes(steps.dots)),
      step("overlaps", { before: steps.dots.length, after: steps.overlaps.length }, boxes(steps.overlaps)),
      step("fragments", { before: steps.overlaps.length, after: steps.fragments.length },
        boxes(steps.fragments)),
    ];
    if (!steps.merged) return list;  // Refused before the network was asked.
    const outcomes = steps.merges.map((m) => words.steps[m.joined ? "joined" : "apart"][1]);
    list.push(outcomes.length
      ? step("close", { pairs: count(outcomes.length, "pair"), outcomes: outcomes.join("; ") }, boxes(steps.merged))
      : step("close_none", {}, boxes(steps.merged)));
    const cuts = [];
    steps.splits.forEach((split) => {
      const chosen = new Set(split.parts.flatMap((part) => part.filter(Boolean).map((cut) => cut.key)));
      for (const cut of split.candidates) {
        cuts.push({ columns: cut.columns, top: split.piece.top, left: split.piece.left,
          chosen: chosen.has(cut.key) });
      }
    });
    const cutPieces = steps.splits.filter((split) => !split.kept).length;
    list.push(steps.splits.length
      ? step("cuts", { wide: count(steps.splits.length, "wide"), whole: steps.splits.length - cutPieces,
        cut: cutPieces, tried: count(cuts.length, "cut"), reads: steps.reads }, boxes(steps.merged), cuts)
      : step(steps.uncut ? "cuts_off" : "cuts_none", {}, boxes(steps.merged)));
    const digits = reading.digits.map((digit) => onGrid(grid, digit.box));
    list.push(reading.lone ? step("lone", {}, digits)
      : step("digits", { digits: count(reading.digits.length, "digit"), number: reading.number }, digits));
    return list;
  }

  function render(body) {
    if (!shown || !shown.reading || !shown.reading.steps) {
      body.textContent = shown && shown.words ? shown.words.empty : "";
      return;
    }
    body.replaceChildren(...describe(shown.reading, shown.words).map((step) => {
      const figure = document.createElement("figure");
      figure.className = "step";
      const caption = document.createElement("figcaption");
      const title = document.createElement("b");
      title.textContent = step.title;
      caption.append(title, " " + step.text);
      figure.append(picture(shown.reading.steps.grid, step.boxes, step.cuts), caption);
      return figure;
    }));
  }

  // Called by the pad after each reading (null when the page reads no numbers), with the
  // payload's extras (their splits words).
  function update(element, reading, extras) {
    shown = extras && extras.splits ? { reading, words: extras.splits } : null;
    const panel = element.querySelector("details.splits");
    if (!panel) return;
    if (!panel.dataset.wired) {
      panel.dataset.wired = "1";
      panel.addEventListener("toggle", () => { if (panel.open) render(panel.querySelector(".splits-body")); });
    }
    if (panel.open) render(panel.querySelector(".splits-body"));
  }

  root.mnistNumberSteps = { update, describe };
})(typeof window !== "undefined" ? window : globalThis);
