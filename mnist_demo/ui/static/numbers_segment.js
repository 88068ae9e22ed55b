// The page's copy of mnist_demo/numbers/blobs.py and segment.py, step for step: the working grid,
// the blobs of ink (runs and a union-find), dots, overlaps, fragments, left-to-right order and
// close neighbours. Every constant comes from the payload (SegmentSettings.to_dict() as
// payload.numbers, the ink threshold's from payload.preprocess), none from here.
// tests/test_numbers_page.py reads composed numbers with both and compares them.
(function (root) {
  "use strict";

  // Refused past a cap: key names the reason's template in wording.py's number table.
  class TooMuchInk extends Error {
    constructor(key, values) { super(key); this.key = key; this.values = values; }
  }

  const grouped = (n) => n.toLocaleString("en-US");

  // ink_threshold: the level that counts as a stroke (null when blank).
  function inkThreshold(ink, pre) {
    let strongest = 0;
    for (let i = 0; i < ink.length; i++) if (ink[i] > strongest) strongest = ink[i];
    if (strongest < pre.noise_level) return null;
    return Math.max(pre.noise_level, Math.ceil(strongest * pre.box_fraction));
  }

  // working_grid: {mask (Uint8Array), height, width, factor, top, left}, or null when blank.
  function workingGrid(ink, height, width, s, pre) {
    const threshold = inkThreshold(ink, pre);
    if (threshold === null) return null;
    let top = -1, bottom = -1, left = width, right = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0, at = y * width; x < width; x++, at++) {
        if (ink[at] >= threshold) {
          if (top < 0) top = y;
          bottom = y;
          if (x < left) left = x;
          if (x > right) right = x;
        }
      }
    }
    const h = bottom - top + 1, w = right - left + 1;
    const factor = Math.max(1, Math.floor(h / s.work_height), Math.ceil(Math.max(h, w) / s.work_max_side));
    const gh = Math.ceil(h / factor), gw = Math.ceil(w / factor);
    const mask = new Uint8Array(gh * gw);
    for (let y = 0; y < h; y++) {
      for (let x = 0, at = (top + y) * width + left; x < w; x++, at++) {
        if (ink[at] >= threshold) mask[Math.floor(y / factor) * gw + Math.floor(x / factor)] = 1;
      }
    }
    return { mask, height: gh, width: gw, factor, top, left };
  }

  // Grid.to_canvas: a box on the grid -> the same region of the canvas, clipped.
  function toCanvas(grid, box, height, width) {
    const f = grid.factor;
    return {
      top: grid.top + box.top * f, left: grid.left + box.left * f,
      bottom: Math.min(height, grid.top + box.bottom * f),
      right: Math.min(width, grid.left + box.right * f),
    };
  }

  // run_labels: union-find over linked pairs; groups numbered 1, 2, ... by their first item.
  function runLabels(count, pairs) {
    const parent = Array.from({ length: count }, (_, i) => i);
    const rootOf = (node) => {
      while (parent[node] !== node) { parent[node] = parent[parent[node]]; node = parent[node]; }
      return node;
    };
    for (const [x, y] of pairs) {
      const rx = rootOf(x), ry = rootOf(y);
      if (rx !== ry) parent[Math.max(rx, ry)] = Math.min(rx, ry);
    }
    const labels = new Int32Array(count), numbers = new Map();
    for (let i = 0; i < count; i++) {
      const r = rootOf(i);
      if (!numbers.has(r)) numbers.set(r, numbers.size + 1);
      labels[i] = numbers.get(r);
    }
    return labels;
  }

  // components: the label image and one piece per blob ({box, members}); throws TooMuchInk.
  function components(grid, s) {
    const { mask, height, width } = grid;
    const rows = [], starts = [], ends = [], rowFirst = new Int32Array(height + 1);
    for (let y = 0; y < height; y++) {
      rowFirst[y] = rows.length;
      for (let x = 0, at = y * width; x < width; x++, at++) {
        if (mask[at] && (x === 0 || !mask[at - 1])) { rows.push(y); starts.push(x); }
        if (mask[at] && (x === width - 1 || !mask[at + 1])) ends.push(x + 1);
      }
    }
    rowFirst[height] = rows.length;
    if (rows.length > s.max_runs) {
      throw new TooMuchInk("too_many_runs", { count: grouped(rows.length), most: grouped(s.max_runs) });
    }
    const pairs = [];
    for (let b = 0; b < rows.length; b++) {
      const y = rows[b];
      if (y === 0) continue;
      for (let a = rowFirst[y - 1]; a < rowFirst[y]; a++) {
        if (starts[a] <= ends[b] && starts[b] <= ends[a]) pairs.push([a, b]);
      }
    }
    const labels = runLabels(rows.length, pairs);
    let count = 0;
    for (const label of labels) if (label > count) count = label;
    if (count > s.max_components) {
      throw new TooMuchInk("too_many_marks", { count, most: s.max_components });
    }
    const image = new Int32Array(height * width);
    const boxes = Array.from({ length: count + 1 }, () => ({ top: Infinity, left: Infinity, bottom: 0, right: 0 }));
    for (let i = 0; i < rows.length; i++) {
      const k = labels[i], box = boxes[k];
      image.fill(k, rows[i] * width + starts[i], rows[i] * width + ends[i]);
      box.top = Math.min(box.top, rows[i]); box.left = Math.min(box.left, starts[i]);
      box.bottom = Math.max(box.bottom, rows[i] + 1); box.right = Math.max(box.right, ends[i]);
    }
    const pieces = [];
    for (let k = 1; k <= count; k++) pieces.push({ box: boxes[k], members: [k] });
    return { labels: image, pieces };
  }

  // piece_mask: the piece's own ink on the grid within its box (Uint8Array, rows x columns).
  function pieceMask(grid, labels, piece) {
    const { top, left, bottom, right } = piece.box, w = right - left;
    const cells = new Uint8Array((bottom - top) * w), members = new Set(piece.members);
    for (let y = top; y < bottom; y++) {
      for (let x = left; x < right; x++) {
        if (members.has(labels[y * grid.width + x])) cells[(y - top) * w + x - left] = 1;
      }
    }
    return { cells, height: bottom - top, width: w };
  }

  const heightOf = (box) => box.bottom - box.top;
  const widthOf = (box) => box.right - box.left;

  function joined(first, second) {
    const a = first.box, b = second.box;
    return {
      box: { top: Math.min(a.top, b.top), left: Math.min(a.left, b.left),
        bottom: Math.max(a.bottom, b.bottom), right: Math.max(a.right, b.right) },
      members: first.members.concat(second.members).sort((x, y) => x - y),
    };
  }

  // box_gaps: the shortest distance from box to each of others (0 where they overlap).
  function boxGaps(box, others) {
    return others.map((o) => {
      const r = Math.max(0, box.top - o.bottom, o.top - box.bottom);
      const c = Math.max(0, box.left - o.right, o.left - box.right);
      return Math.hypot(r, c);
    });
  }

  // The first index of the least value, as np.argmin.
  function argmin(values) {
    let best = 0;
    values.forEach((v, i) => { if (v < values[best]) best = i; });
    return best;
  }

  function median(values) {
    const sorted = [...values].sort((a, b) => a - b), n = sorted.length;
    return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  function mergeDots(pieces, s) {
    if (!pieces.length) return { pieces: [], specks: [] };
    const tallest = Math.max(...pieces.map((p) => heightOf(p.box)));
    const limit = s.dot_fraction * tallest;
    const extent = (p) => Math.max(heightOf(p.box), widthOf(p.box));
    const dots = pieces.filter((p) => extent(p) < limit);
    const kept = pieces.filter((p) => extent(p) >= limit);
    const boxes = kept.map((p) => p.box);  // As segment.py: the boxes before any dot joins.
    const specks = [];
    for (const dot of dots) {
      const gaps = boxGaps(dot.box, boxes), nearest = argmin(gaps);
      if (gaps[nearest] <= s.dot_reach * tallest) kept[nearest] = joined(kept[nearest], dot);
      else specks.push(dot);
    }
    return { pieces: kept, specks };
  }

  function mergeFragments(pieces, s) {
    pieces = [...pieces];
    while (pieces.length > 1) {
      const middle = median(pieces.map((p) => heightOf(p.box)));
      let best = null;
      pieces.forEach((piece, index) => {
        if (!(heightOf(piece.box) < s.fragment_fraction * middle)) return;
        const gaps = boxGaps(piece.box, pieces.map((p) => p.box));
        gaps[index] = Infinity;
        const nearest = argmin(gaps);
        if (gaps[nearest] <= s.dot_reach * middle) {
          const candidate = [heightOf(piece.box), index, nearest];
          if (!best || candidate[0] < best[0] || (candidate[0] === best[0] && candidate[1] < best[1])) {
            best = candidate;
          }
        }
      });
      if (!best) break;
      const [, index, nearest] = best;
      pieces[nearest] = joined(pieces[nearest], pieces[index]);
      pieces.splice(index, 1);
    }
    return pieces;
  }

  function mergeOverlaps(pieces, s) {
    pieces = [...pieces];
    while (pieces.length > 1) {
      const pairs = [];
      for (let i = 0; i < pieces.length; i++) {
        for (let j = i + 1; j < pieces.length; j++) {
          const a = pieces[i].box, b = pieces[j].box;
          const shared = Math.min(a.right, b.right) - Math.max(a.left, b.left);
          const overlap = Math.max(shared, 0) / Math.max(Math.min(widthOf(a), widthOf(b)), 1);
          const gap = Math.max(b.top - a.bottom, a.top - b.bottom);
          const rowGap = Math.max(gap, 0) / Math.max(Math.max(heightOf(a), heightOf(b)), 1);
          if (overlap >= s.merge_overlap && rowGap <= s.merge_reach) pairs.push([i, j]);
        }
      }
      if (!pairs.length) break;
      const groups = runLabels(pieces.length, pairs), held = new Map();
      pieces.forEach((piece, i) => {
        const g = groups[i];
        held.set(g, held.has(g) ? joined(held.get(g), piece) : piece);
      });
      pieces = [...held.values()];
    }
    return pieces;
  }

  function closeNeighbours(pieces, s) {
    const found = [];
    for (let i = 0; i + 1 < pieces.length; i++) {
      const a = pieces[i].box, b = pieces[i + 1].box, together = joined(pieces[i], pieces[i + 1]).box;
      const gap = Math.max(a.left, b.left) - Math.min(a.right, b.right);
      if (gap <= s.merge_gap * Math.max(heightOf(a), heightOf(b)) &&
          widthOf(together) <= s.max_part * heightOf(together)) found.push(i);
    }
    return found;
  }

  const centre = (p) => (p.box.left + p.box.right) / 2;
  const inOrder = (pieces) => [...pieces].sort((a, b) => centre(a) - centre(b) || a.box.top - b.box.top);

  // segment: steps 1-6, each one's pieces kept for the "How it splits" panel; null when blank.
  function segment(ink, height, width, s, pre) {
    const grid = workingGrid(ink, height, width, s, pre);
    if (!grid) return null;
    const { labels, pieces: blobs } = components(grid, s);
    const dotted = mergeDots(blobs, s);
    const overlapped = mergeOverlaps(dotted.pieces, s);
    const fragmented = mergeFragments(overlapped, s);
    const pieces = inOrder(fragmented);
    return {
      grid, labels, pieces, specks: dotted.specks,
      steps: { blobs, dots: dotted.pieces, overlaps: overlapped, fragments: fragmented },
    };
  }

  root.mnistNumberSegment = {
    TooMuchInk, segment, toCanvas, pieceMask, joined, closeNeighbours, median, heightOf, widthOf,
  };
})(typeof window !== "undefined" ? window : globalThis);
