// The page's copy of mnist_demo/recognition/preprocess.py, step for step (ink_box, is_speck, crop, fit,
// place, to_picture, to_tensor); its constants come from the model payload, not from here.
// tests/test_page_parity.py runs thousands of drawings through both and compares the outputs.
(function (root) {
  "use strict";
  const f32 = Math.fround;

  // numpy's rint and Python's round(): halves go to the even neighbour.
  function rint(x) {
    const r = Math.round(x);
    return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }

  // ink: Uint8Array of height * width (0 = no ink, 255 = full).
  function inkBox(ink, height, width, s) {
    const rowStrength = new Uint8Array(height);
    let strongest = 0;
    for (let y = 0; y < height; y++) {
      let best = 0;
      for (let x = 0, at = y * width; x < width; x++, at++) if (ink[at] > best) best = ink[at];
      rowStrength[y] = best;
      if (best > strongest) strongest = best;
    }
    if (strongest < s.noise_level) return null;
    const threshold = Math.max(s.noise_level, Math.ceil(strongest * s.box_fraction));
    let top = -1, bottom = -1;
    for (let y = 0; y < height; y++) {
      if (rowStrength[y] >= threshold) { if (top < 0) top = y; bottom = y + 1; }
    }
    let left = width, right = 0;
    for (let y = top; y < bottom; y++) {
      for (let x = 0, at = y * width; x < width; x++, at++) {
        if (ink[at] >= threshold) { if (x < left) left = x; if (x + 1 > right) right = x + 1; }
      }
    }
    return { top, left, bottom, right };
  }

  function isSpeck(box, height, width, s) {
    const extent = Math.max(box.bottom - box.top, box.right - box.left);
    return extent < Math.max(s.speck_pixels, s.speck_fraction * Math.max(height, width));
  }

  function lanczos(x, a) {
    if (!(x >= -a && x < a)) return 0;
    const sinc = (v) => (v === 0 ? 1 : Math.sin(Math.PI * v) / (Math.PI * v));
    return sinc(x) * sinc(x / a);
  }

  // Row i of preprocess.resize_weights: {first, taps} (Pillow's precompute_coeffs in float64).
  function resizeWeights(source, target, a) {
    const scale = source / target;
    const filterScale = Math.max(scale, 1);
    const support = a * filterScale;
    const rows = [];
    for (let i = 0; i < target; i++) {
      const centre = (i + 0.5) * scale;
      const first = Math.max(Math.trunc(centre - support + 0.5), 0);
      const last = Math.min(Math.trunc(centre + support + 0.5), source);
      const taps = [];
      let total = 0;
      for (let x = first; x < last; x++) {
        const w = lanczos((x - centre + 0.5) / filterScale, a);
        taps.push(w);
        total += w;
      }
      rows.push({ first, taps: taps.map((w) => w / total) });
    }
    return rows;
  }

  // The cropped region -> Float32Array patch (newHeight * newWidth), strongest ink at 1.
  function fit(ink, width, box, size, a) {
    const height = box.bottom - box.top, regionWidth = box.right - box.left;
    const scale = size / Math.max(height, regionWidth);
    const newHeight = Math.max(1, rint(height * scale));
    const newWidth = Math.max(1, rint(regionWidth * scale));
    const vertical = resizeWeights(height, newHeight, a);
    const horizontal = resizeWeights(regionWidth, newWidth, a);
    let regionMax = 0;
    for (let y = box.top; y < box.bottom; y++) {
      for (let x = 0, at = y * width + box.left; x < regionWidth; x++, at++) {
        if (ink[at] > regionMax) regionMax = ink[at];
      }
    }
    const columns = new Float64Array(newHeight * regionWidth);
    for (let i = 0; i < newHeight; i++) {
      const { first, taps } = vertical[i];
      for (let t = 0; t < taps.length; t++) {
        const row = (box.top + first + t) * width + box.left, w = taps[t];
        for (let x = 0; x < regionWidth; x++) columns[i * regionWidth + x] += w * ink[row + x];
      }
    }
    const patch = new Float32Array(newHeight * newWidth);
    let strongest = 0;
    for (let i = 0; i < newHeight; i++) {
      for (let j = 0; j < newWidth; j++) {
        const { first, taps } = horizontal[j];
        let sum = 0;
        for (let t = 0; t < taps.length; t++) sum += columns[i * regionWidth + first + t] * taps[t];
        const v = f32(Math.min(Math.max(sum, 0), regionMax));
        patch[i * newWidth + j] = v;
        if (v > strongest) strongest = v;
      }
    }
    if (strongest > 0) for (let i = 0; i < patch.length; i++) patch[i] = f32(patch[i] / strongest);
    return { patch, height: newHeight, width: newWidth };
  }

  function place(fitted, s) {
    const { patch, height, width } = fitted;
    const n = s.image_size;
    let top, left;
    if (s.centre_by_mass) {
      let total = 0, rows = 0, cols = 0;
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const v = patch[y * width + x];
          total += v; rows += v * y; cols += v * x;
        }
      }
      top = Math.floor(s.mnist_centre - rows / total + 0.5);
      left = Math.floor(s.mnist_centre - cols / total + 0.5);
    } else {
      top = Math.floor((n - height) / 2);
      left = Math.floor((n - width) / 2);
    }
    top = Math.min(Math.max(top, 0), n - height);
    left = Math.min(Math.max(left, 0), n - width);
    const frame = new Float32Array(n * n);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) frame[(top + y) * n + left + x] = patch[y * width + x];
    }
    return frame;
  }

  // Ink (Uint8Array, height x width) -> {blank, reason} or {picture (uint8 28x28), tensor}.
  function preprocess(ink, height, width, s) {
    const box = inkBox(ink, height, width, s);
    if (!box) return { blank: true, reason: "nothing drawn" };
    if (isSpeck(box, height, width, s)) return { blank: true, reason: "too small to be a digit", box };
    const fitted = fit(ink, width, box, s.fit_box, s.lanczos_a);
    if (!fitted.patch.some((v) => v > 0)) {
      return { blank: true, reason: "strokes too thin to see", box };
    }
    const frame = place(fitted, s);
    const picture = new Uint8Array(frame.length);
    const tensor = new Float32Array(frame.length);
    const mean = f32(s.mean), std = f32(s.std);
    for (let i = 0; i < frame.length; i++) {
      picture[i] = rint(f32(Math.min(Math.max(frame[i], 0), 1) * 255));
      tensor[i] = f32(f32(f32(picture[i] / 255) - mean) / std);
    }
    return { blank: false, picture, tensor, box };
  }

  root.mnistPreprocess = { preprocess, resizeWeights, rint };
})(typeof window !== "undefined" ? window : globalThis);
