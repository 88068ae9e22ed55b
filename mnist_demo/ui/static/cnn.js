// The page's network: an interpreter of the layer list that mnist_demo/recognition/page_model.py reads off
// the nn.Module (conv2d with its BatchNorm folded in, relu, maxpool2d, flatten, linear).
// Float32 throughout, like torch on the CPU; weights arrive as base64 float16.
(function (root) {
  "use strict";

  function halfToFloat(bits) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const fraction = bits & 0x3ff;
    if (exponent === 0) return sign * fraction * Math.pow(2, -24);
    if (exponent === 31) return fraction ? NaN : sign * Infinity;
    return sign * (1 + fraction / 1024) * Math.pow(2, exponent - 15);
  }

  function decodeFloat16(base64) {
    const text = atob(base64);
    const values = new Float32Array(text.length / 2);
    for (let i = 0; i < values.length; i++) {
      values[i] = halfToFloat(text.charCodeAt(2 * i) | (text.charCodeAt(2 * i + 1) << 8));
    }
    return values;
  }

  // (channels, height, width) -> (out, height, width): square kernel, stride 1, zero padding.
  function conv2d(input, shape, layer) {
    const [channels, height, width] = shape;
    const k = layer.kernel, pad = layer.padding, out = layer.out;
    const outHeight = height + 2 * pad - k + 1, outWidth = width + 2 * pad - k + 1;
    const output = new Float32Array(out * outHeight * outWidth);
    for (let o = 0; o < out; o++) {
      const plane = o * outHeight * outWidth;
      output.fill(layer.bias[o], plane, plane + outHeight * outWidth);
      for (let c = 0; c < channels; c++) {
        const source = c * height * width;
        for (let ky = 0; ky < k; ky++) {
          for (let kx = 0; kx < k; kx++) {
            const w = layer.weight[((o * channels + c) * k + ky) * k + kx];
            for (let y = 0; y < outHeight; y++) {
              const sy = y + ky - pad;
              if (sy < 0 || sy >= height) continue;
              const row = source + sy * width, target = plane + y * outWidth;
              const x0 = Math.max(0, pad - kx), x1 = Math.min(outWidth, width + pad - kx);
              for (let x = x0; x < x1; x++) output[target + x] += w * input[row + x + kx - pad];
            }
          }
        }
      }
    }
    return [output, [out, outHeight, outWidth]];
  }

  function maxpool2d(input, shape) {
    const [channels, height, width] = shape;
    const outHeight = Math.floor(height / 2), outWidth = Math.floor(width / 2);
    const output = new Float32Array(channels * outHeight * outWidth);
    for (let c = 0; c < channels; c++) {
      for (let y = 0; y < outHeight; y++) {
        for (let x = 0; x < outWidth; x++) {
          const at = c * height * width + 2 * y * width + 2 * x;
          output[(c * outHeight + y) * outWidth + x] = Math.max(
            input[at], input[at + 1], input[at + width], input[at + width + 1]);
        }
      }
    }
    return [output, [channels, outHeight, outWidth]];
  }

  function relu(input, shape) {
    return [input.map((v) => (v > 0 ? v : 0)), shape];
  }

  function linear(input, shape, layer) {
    const output = new Float32Array(layer.out);
    for (let o = 0; o < layer.out; o++) {
      let sum = 0;
      const row = o * layer.in;
      for (let i = 0; i < layer.in; i++) sum += layer.weight[row + i] * input[i];
      output[o] = sum + layer.bias[o];
    }
    return [output, [layer.out]];
  }

  const OPS = {
    conv2d, maxpool2d, relu, linear,
    flatten: (input, shape) => [input, [input.length]],
  };

  // The payload's layers with their weights decoded; throws on an operation it does not know.
  function compile(payload) {
    return payload.layers.map((layer) => {
      if (!OPS[layer.op]) throw new Error("unknown layer " + layer.op);
      const ready = Object.assign({}, layer);
      if (layer.weight) ready.weight = decodeFloat16(layer.weight);
      if (layer.bias) ready.bias = decodeFloat16(layer.bias);
      return ready;
    });
  }

  // One image (Float32Array of channels * height * width) -> logits.
  function forward(layers, input, shape) {
    let values = input, current = shape;
    for (const layer of layers) [values, current] = OPS[layer.op](values, current, layer);
    return values;
  }

  function softmax(logits) {
    const top = Math.max(...logits);
    const exps = Array.from(logits, (v) => Math.exp(v - top));
    const total = exps.reduce((a, b) => a + b, 0);
    return exps.map((v) => v / total);
  }

  root.mnistCnn = { compile, forward, softmax, decodeFloat16 };
})(typeof window !== "undefined" ? window : globalThis);
