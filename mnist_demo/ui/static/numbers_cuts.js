// The page's copy of mnist_demo/numbers/cuts.py, step for step: the column projection and its
// valleys, straight and drop-fall cuts, and the way of cutting a piece that the model (reached
// through a score callback) is surest about. Constants from the payload (payload.extras.numbers).
(function (root) {
  "use strict";
  const rint = (x) => {  // numpy's rint and Python's round(): halves to the even neighbour.
    const r = Math.round(x);
    return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
  };

  // A cut: {columns (one per row), kind, valley, middle, key}.
  function makeCut(columns, kind, valley) {
    let total = 0;
    for (const c of columns) total += c;
    return { columns, kind, valley, middle: total / columns.length, key: columns.join(",") };
  }

  // projection: ink per column, the mean of three columns (edges repeated), summed in cuts.py's order.
  function projection(mask) {
    const { cells, height, width } = mask, counts = new Float64Array(width), third = 1 / 3;
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) counts[x] += cells[y * width + x];
    const at = (x) => counts[Math.min(Math.max(x, 0), width - 1)];
    return Float64Array.from({ length: width }, (_, x) => (at(x - 1) * third + at(x) * third) + at(x + 1) * third);
  }

  const expectedDigits = (mask, s) => Math.max(2, rint(mask.width / (mask.height * s.digit_aspect)));

  function valleys(mask, s) {
    const { height, width } = mask;
    const margin = Math.max(1, Math.ceil(s.min_part * height));
    if (width - 2 * margin < 1) return [];
    const profile = projection(mask);
    const reach = Math.max(1, rint(s.cut_spacing * height));
    const minima = [];
    for (let x = margin; x < width - margin; x++) {
      let lowest = Infinity;
      for (let k = Math.max(0, x - reach); k <= Math.min(width - 1, x + reach); k++) {
        lowest = Math.min(lowest, profile[k]);
      }
      if (profile[x] <= lowest) minima.push(x);
    }
    minima.sort((a, b) => profile[a] - profile[b] || a - b);  // Stable: ties left to right.
    const wanted = s.cuts_per_digit * expectedDigits(mask, s), chosen = [];
    for (const column of minima) {
      if (chosen.every((other) => Math.abs(column - other) >= reach)) {
        chosen.push(column);
        if (chosen.length === wanted) break;
      }
    }
    return chosen;
  }

  const straightCut = (mask, column) => makeCut(new Array(mask.height).fill(column), "straight", column);

  function evenParts(mask, s) {
    const count = expectedDigits(mask, s), cuts = [null];
    for (let k = 1; k < count; k++) cuts.push(straightCut(mask, rint((mask.width * k) / count)));
    cuts.push(null);
    return cuts.slice(0, -1).map((cut, i) => [cut, cuts[i + 1]]);
  }

  // drop_fall on cells read through inked(row, col) (so that a rising drop reads rows upside down).
  function dropFall(height, width, inked, column, s) {
    const drift = Math.max(1, rint(s.drop_drift * height));
    const free = (row, col) => Math.abs(col - column) <= drift && col > 0 && col < width && !inked(row, col);
    let x = column;
    const columns = [];
    for (let row = 0; row < height; row++) {
      const below = row + 1;
      let here = x;
      if (below < height && !free(below, x)) {
        const step = free(below, x - 1) ? -1 : free(below, x + 1) ? 1 : null;
        if (step === null) {
          for (const direction of [-1, 1]) {
            let probe = x + direction;
            while (free(row, probe) && !free(below, probe)) probe += direction;
            if (free(row, probe) && free(below, probe)) { x = here = probe; break; }
          }
        } else {
          x += step;
        }
      }
      columns.push(here);
    }
    return columns;
  }

  function candidateCuts(mask, s) {
    const { cells, height, width } = mask, cuts = new Map();
    const add = (cut) => { if (!cuts.has(cut.key)) cuts.set(cut.key, cut); };
    const down = (r, c) => cells[r * width + c] === 1;
    const up = (r, c) => cells[(height - 1 - r) * width + c] === 1;
    for (const column of valleys(mask, s)) {
      const rising = dropFall(height, width, up, column, s).reverse();
      add(straightCut(mask, column));
      add(makeCut(dropFall(height, width, down, column, s), "drop-fall", column));
      add(makeCut(rising, "drop-rise", column));
    }
    for (const part of evenParts(mask, s).slice(1)) add(part[0]);
    return [...cuts.values()].sort((a, b) => a.middle - b.middle);
  }

  // between: whether cell (row, col) of a rows-tall region lies between a part's two cuts;
  // factor maps cuts made on the working grid onto the canvas (row r follows cut row r / factor).
  function limitAt(cut, row, factor) {
    return cut.columns[Math.min(Math.floor(row / factor), cut.columns.length - 1)] * factor;
  }
  function inside(part, row, col, factor) {
    const [left, right] = part;
    return (!left || col >= limitAt(left, row, factor)) && (!right || col < limitAt(right, row, factor));
  }

  function plausible(mask, part, s) {
    const { cells, height, width } = mask;
    let top = -1, bottom = -1, left = width, right = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (cells[y * width + x] && inside(part, y, x, 1)) {
          if (top < 0) top = y;
          bottom = y;
          if (x < left) left = x;
          if (x > right) right = x;
        }
      }
    }
    if (top < 0) return false;
    const h = bottom - top + 1, w = right - left + 1;
    const widest = !part[0] && !part[1] ? s.whole_max_part : s.max_part;
    return h >= s.part_min_height * height && s.min_part * h <= w && w <= widest * h;
  }

  // severed: runs of consecutive rows where the cells on both sides of the cut are ink.
  function severed(mask, cut) {
    const { cells, height, width } = mask;
    let count = 0, before = false;
    for (let y = 0; y < height; y++) {
      const c = cut.columns[y];
      const through = c > 0 && c < width && cells[y * width + c - 1] === 1 && cells[y * width + c] === 1;
      if (through && !before) count++;
      before = through;
    }
    return count;
  }
  const severCost = (mask, cut, s) => s.sever_cost * Math.max(0, severed(mask, cut) - s.sever_free);

  // best_parts: score(part) is the model's log top probability, or null once out of budget.
  // Also returns every cut tried, for the "How it splits" panel.
  function bestParts(mask, score, s) {
    const candidates = candidateCuts(mask, s);
    const cuts = [null, ...candidates, null];
    const middles = [-Infinity, ...candidates.map((cut) => cut.middle), Infinity];
    const costs = [0, ...candidates.map((cut) => severCost(mask, cut, s)), 0];
    const best = [[0, []], ...new Array(cuts.length - 1).fill(null)];
    let unread = false;
    for (let end = 1; end < cuts.length; end++) {
      for (let start = 0; start < end; start++) {
        if (best[start] === null || middles[start] >= middles[end]) continue;
        const part = [cuts[start], cuts[end]];
        if (!plausible(mask, part, s)) continue;
        const value = score(part);
        if (value === null) { unread = true; continue; }
        const total = best[start][0] + value - s.cut_cost - costs[end];
        if (best[end] === null || total > best[end][0]) best[end] = [total, [...best[start][1], part]];
      }
    }
    const parts = best[best.length - 1] !== null ? best[best.length - 1][1]
      : unread ? evenParts(mask, s) : [[null, null]];
    return { parts, candidates };
  }

  root.mnistNumberCuts = { bestParts, candidateCuts, valleys, inside, plausible, severed };
})(typeof window !== "undefined" ? window : globalThis);
