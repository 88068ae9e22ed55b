(...values) => {
  // The pad's ink and sync events hand the server its drawing: this runs first and replaces
  // the first input with the pad's PNG data URL.
  return [window.mnistSketch.inkDataUrl(), ...values.slice(1)];
}
