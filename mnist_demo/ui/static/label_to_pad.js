(label) => {
  // Each new value of the Label goes to the pad, which words it above the canvas when the
  // server answers (static/sketch.js, takeLabel); the pad may not have loaded yet.
  if (window.mnistSketch) window.mnistSketch.takeLabel(label);
}
