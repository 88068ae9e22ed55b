() => {
  // The pad's "predicted" event: the page's own answer (label, picture, hint), no request.
  return window.mnistSketch.outputs();
}
