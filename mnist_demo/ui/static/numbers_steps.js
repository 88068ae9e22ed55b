// The pad's "How it splits" panel: the steps static/numbers.js took on the current drawing (its
// own record of them, no second segmentation), each as a small picture of the working grid with
// the pieces' boxes and one sentence: the blobs of ink, dots, overlaps, fragments, close
// neighbours, cuts and the digits read. Drawn only while the panel is open.
(function (root) {
  "use strict";
  const COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777"];
  const SIDE = 160;  // Each picture's longer side, in pixels.
  let shown = null;  // The reading the panel shows (or will, once opened).

  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

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

  // The steps as {title, text, boxes, cuts}: what the panel shows and the tests check.
  function describe(reading) {
    const steps = reading.steps, grid = steps.grid, boxes = (pieces) => pieces.map((p) => p.box);
    const joinedDots = steps.blobs.length - steps.dots.length - steps.specks.length;
    const list = [
      { title: "1. Blobs of ink", boxes: boxes(steps.blobs), cuts: [],
        text: `${plural(steps.blobs.length, "separate blob", "separate blobs")} of ink` +
          (grid.factor > 1 ? `, on a grid ${grid.factor}× smaller than the drawing.` : ".") },
      { title: "2. Dots", boxes: boxes(steps.dots), cuts: [],
        text: `${plural(joinedDots, "dot joins", "dots join")} the nearest piece; ` +
          `${plural(steps.specks.length, "speck is", "specks are")} left out.` },
      { title: "3. One above the other", boxes: boxes(steps.overlaps), cuts: [],
        text: `Pieces sharing most of their columns are one digit: ${steps.dots.length} → ` +
          `${steps.overlaps.length}.` },
      { title: "4. Fragments", boxes: boxes(steps.fragments), cuts: [],
        text: `Pieces much shorter than the others join their nearest: ${steps.overlaps.length} → ` +
          `${steps.fragments.length}, then left to right.` },
    ];
    if (!steps.merged) return list;  // Refused before the model was asked.
    const merges = steps.merges.map((m) => (m.joined ? "read surer as one digit: joined"
      : "read surer as two: kept apart"));
    list.push({ title: "5. Close neighbours", boxes: boxes(steps.merged), cuts: [],
      text: merges.length ? `${plural(merges.length, "pair", "pairs")} almost touching: ${merges.join("; ")}.`
        : "No two pieces are close enough to be one digit." });
    const cuts = [];
    steps.splits.forEach((split) => {
      const chosen = new Set(split.parts.flatMap((part) => part.filter(Boolean).map((cut) => cut.key)));
      for (const cut of split.candidates) {
        cuts.push({ columns: cut.columns, top: split.piece.top, left: split.piece.left,
          chosen: chosen.has(cut.key) });
      }
    });
    const wide = steps.splits.filter((split) => !split.kept);
    list.push({ title: "6. Cuts", boxes: boxes(steps.merged), cuts,
      text: steps.splits.length === 0 ? "No piece is wide enough to hold two digits."
        : `${plural(steps.splits.length, "wide piece", "wide pieces")}: ` +
          `${steps.splits.length - wide.length} read whole with confidence, ` +
          `${wide.length} cut where the network is surest (${cuts.length} cuts tried, ` +
          `${steps.reads} readings in all).` });
    const digits = reading.digits.map((digit) => onGrid(grid, digit.box));
    list.push({ title: "7. Digits", boxes: digits, cuts: [],
      text: reading.lone ? "One digit: read as a lone digit, the whole drawing."
        : `${plural(reading.digits.length, "digit", "digits")}, left to right: ${reading.number || "none"}.` });
    return list;
  }

  function render(body) {
    if (!shown || !shown.steps) {
      body.textContent = "Draw a number (or a digit) to see how the page splits it into digits.";
      return;
    }
    body.replaceChildren(...describe(shown).map((step) => {
      const figure = document.createElement("figure");
      figure.className = "step";
      const caption = document.createElement("figcaption");
      caption.innerHTML = `<b>${step.title}</b> ${step.text}`;
      figure.append(picture(shown.steps.grid, step.boxes, step.cuts), caption);
      return figure;
    }));
  }

  // Called by the pad after each reading.
  function update(element, reading) {
    shown = reading;
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
