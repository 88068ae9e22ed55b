// The drawing pad (the body of the #sketch gr.HTML's js_on_load: `element`, `trigger` and
// `props` come from Gradio). It draws on pointer events (mouse, touch and pen alike), keeps the
// strokes for Undo, and predicts in the page while you draw with cnn.js and preprocess.js,
// loaded from the app's static files. Without them (not loaded yet, blocked, failed) each
// finished stroke goes to the server instead: trigger("ink"). While a panel that needs the
// drawing on the server is open, the page still predicts, and sends one request per stroke.
// Its words come from the payload, through static/wording.js.
const canvas = element.querySelector("canvas");
const context = canvas.getContext("2d", { willReadFrequently: true });
const readout = element.querySelector(".readout");
const sizeInput = element.querySelector(".brush-size");
const eraserInput = element.querySelector(".eraser");
const touchingInput = element.querySelector(".touching");
const wording = window.mnistWording;  // static/wording.js, run just before this script.
const strokes = [];
let current = null;
let lastPrediction = 0;
let quickMilliseconds = 0;  // What the last answer while drawing cost.
let predictions = 0;  // How many answers the page has computed (for tests and benchmarks).
let runtime = null;  // { layers, payload } once the scripts and the model are in.
let taken = { text: null, payload: null };  // The last payload read, so it is parsed once.
// The payload's extras (thresholds, description, wording table): there even when the page cannot
// run the model, to word the server's answers.
let extras = null;
let shownLabel = null;  // The Label's last confidences (the server's answer on its path), or null.
let mirroring = false;  // Whether the answer above the pad follows the server's.
let serverHasDrawing = true;
let latest = { label: null, picture: "", hint: "" };
const PREDICT_EVERY_MS = 50;
const SERVER_PANELS = ["#inside", "#preprocessing", "#handwriting"];
const SYNC_ON_CLICK = "button[role=tab], #dataset, " + SERVER_PANELS.join(", ");

function paint(stroke, from) {
  context.save();
  context.globalCompositeOperation = stroke.erase ? "destination-out" : "source-over";
  context.strokeStyle = "#000";
  context.fillStyle = "#000";
  context.lineWidth = stroke.size;
  context.lineCap = "round";
  context.lineJoin = "round";
  const points = stroke.points;
  if (points.length === 1) {
    context.beginPath();
    context.arc(points[0][0], points[0][1], stroke.size / 2, 0, 2 * Math.PI);
    context.fill();
  } else {
    context.beginPath();
    const start = Math.max(0, from - 1);
    context.moveTo(points[start][0], points[start][1]);
    for (let i = start + 1; i < points.length; i++) context.lineTo(points[i][0], points[i][1]);
    context.stroke();
  }
  context.restore();
}

function repaint() {
  context.clearRect(0, 0, canvas.width, canvas.height);
  for (const stroke of strokes) paint(stroke, 0);
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return [
    ((event.clientX - box.left) * canvas.width) / box.width,
    ((event.clientY - box.top) * canvas.height) / box.height,
  ];
}

function ink() {
  const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const alpha = new Uint8Array(canvas.width * canvas.height);
  for (let i = 0; i < alpha.length; i++) alpha[i] = rgba[4 * i + 3];
  return alpha;
}

function pictureHtml(picture) {
  const small = document.createElement("canvas");
  small.width = small.height = 28;
  const image = small.getContext("2d").createImageData(28, 28);
  picture.forEach((v, i) => { image.data.set([v, v, v, 255], 4 * i); });
  small.getContext("2d").putImageData(image, 0, 0);
  return `<img src="${small.toDataURL("image/png")}" width="224" ` +
    `alt="The 28×28 image the model sees" style="max-width: 100%; height: auto;">`;
}

// Answers the drawing. Quick (while the pen moves): no piece is cut into digits yet. One piece
// of ink is cut into touching digits only when "Touching digits" is ticked; otherwise it is one
// digit, read and shown as the pad always did.
function predict(quick = false) {
  if (!runtime) return false;
  const { payload, layers } = runtime;
  const started = performance.now();
  const pixels = ink();
  const cuts = quick ? false : touchingInput && touchingInput.checked ? true : "pieces";
  const reading = readNumber(pixels, payload, layers, cuts);
  if (reading && !reading.lone) showNumber(reading, payload, started);
  else showDigit(reading, pixels, payload, layers, started);
  if (window.mnistNumberSteps) window.mnistNumberSteps.update(element, reading, payload.extras);
  lastPrediction = performance.now();
  if (quick) quickMilliseconds = lastPrediction - started;
  predictions += 1;
  trigger("predicted");
  return true;
}

// A whole number (static/numbers.js), when the page has it and the payload its settings (MNIST).
function readNumber(pixels, payload, layers, cuts) {
  const view = window.mnistNumberView;
  return view && payload.extras.numbers ? view.read(pixels, canvas, payload, layers, cuts) : null;
}

// One digit (or an empty pad): the display the pad always had, from the same preprocessing.
function showDigit(reading, pixels, payload, layers, started) {
  if (window.mnistNumberView) window.mnistNumberView.clear(element);
  const prepared = reading && reading.prepared ? reading.prepared
    : window.mnistPreprocess.preprocess(pixels, canvas.height, canvas.width, payload.preprocess);
  let probabilities = reading && reading.prepared ? reading.digits[0].probabilities : null;
  if (!prepared.blank && !probabilities) {
    const logits = window.mnistCnn.forward(layers, prepared.tensor, [1, 28, 28]);
    probabilities = window.mnistCnn.softmax(logits);
  }
  const names = payload.class_names;
  latest = {
    // An empty Label is {label: null, confidences: []}: a bare null leaves the outputs as
    // they were in a client-side event (seen with gradio 6.31).
    label: {
      label: probabilities ? names[probabilities.indexOf(Math.max(...probabilities))] : null,
      confidences: probabilities ? names.map((label, i) => ({ label, confidence: probabilities[i] }))
        .sort((a, b) => b.confidence - a.confidence) : [],
    },
    picture: probabilities ? pictureHtml(prepared.picture) : "",
    hint: wording.say("hint", probabilities, names, payload.extras),
    probabilities,
    model: payload.id,
    milliseconds: performance.now() - started,
  };
  readout.textContent = wording.say("readout", probabilities, names, payload.extras);
}

// Several digits: the number, its boxes over the pad, the strip (static/numbers_view.js).
function showNumber(reading, payload, started) {
  const shown = window.mnistNumberView.present(element, reading, payload, canvas);
  latest = { ...shown, model: payload.id, milliseconds: performance.now() - started };
  readout.textContent = shown.readout;
}

// A click on a digit's box or picture: the probabilities and the "Inside" panels follow it.
document.addEventListener("click", (event) => {
  const chosen = event.target.closest && event.target.closest("#sketch [data-digit], #model-input [data-digit]");
  const view = window.mnistNumberView;
  if (!chosen || !runtime || !view || !view.select(Number(chosen.dataset.digit))) return;
  showNumber(view.current(), runtime.payload, performance.now());
  trigger("predicted");
  serverHasDrawing = panelsOpen();
  if (serverHasDrawing) trigger("sync");
});

function panelsOpen() {
  return SERVER_PANELS.some((selector) => {
    const panel = document.querySelector(selector);
    return panel && panel.querySelector(".label-wrap.open, button.open[aria-expanded=true]");
  });
}

// On the server path the answer above the pad follows the server's: the Label's value (class
// names and probabilities) after each change, handed over by a client-side event on the Label
// (tabs/draw.py: no request), worded with the same table as the page's own answers.
function takeLabel(label) {
  shownLabel = label && label.confidences && label.confidences.length ? label.confidences : null;
  showServerAnswer();
}

function showServerAnswer() {
  if (!mirroring || runtime || !extras) return;
  const names = shownLabel ? shownLabel.map((each) => each.label) : [];
  const probabilities = shownLabel ? shownLabel.map((each) => each.confidence) : null;
  readout.textContent = wording.say("readout", probabilities, names, extras);
}

// The stroke is finished: the page answers; the server hears of it only if it needs it.
function finished() {
  const local = predict();
  if (!local) mirroring = true;
  if (!local) trigger("ink");
  else if (panelsOpen()) trigger("sync");
  serverHasDrawing = !local || panelsOpen();
}

canvas.addEventListener("pointerdown", (event) => {
  if (event.button > 0) return;
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  current = { points: [point(event)], size: Number(sizeInput.value), erase: eraserInput.checked };
  strokes.push(current);
  paint(current, 0);
});
canvas.addEventListener("pointermove", (event) => {
  if (!current) return;
  event.preventDefault();
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  const from = current.points.length;
  for (const each of events.length ? events : [event]) current.points.push(point(each));
  paint(current, from);
  // A quick answer (no cuts); should it still be slow, never more than a fifth of the stroke's
  // time goes to answering while it is drawn (pointer-up always answers in full).
  const every = Math.max(PREDICT_EVERY_MS, 4 * quickMilliseconds);
  if (performance.now() - lastPrediction >= every) predict(true);
});
const end = () => {
  if (!current) return;
  current = null;
  finished();
};
canvas.addEventListener("pointerup", end);
canvas.addEventListener("pointercancel", end);
if (touchingInput) touchingInput.addEventListener("change", () => { if (strokes.length) finished(); });
element.querySelector(".undo").addEventListener("click", () => {
  strokes.pop();
  repaint();
  finished();
});
element.querySelector(".clear").addEventListener("click", () => {
  strokes.length = 0;
  repaint();
  eraserInput.checked = false;  // Clear leaves the pen ready.
  finished();
});
// The Retrain tab, the dataset switch and the teaching panels read the drawing on the server.
document.addEventListener("click", (event) => {
  if (!serverHasDrawing && event.target.closest && event.target.closest(SYNC_ON_CLICK)) {
    serverHasDrawing = true;
    trigger("sync");
  }
}, true);

function loadScript(url) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = url;
    script.onload = resolve;
    script.onerror = () => reject(new Error("could not load " + url));
    document.head.appendChild(script);
  });
}

function readPayload() {
  const text = window.mnistDemoModel;
  if (text && text !== taken.text) {
    try {
      taken = { text, payload: JSON.parse(text) };
    } catch (error) {
      console.warn("mnist-demo: the model payload is unreadable", error);
      taken = { text, payload: null };
    }
  }
  return taken.payload;
}

function takeModel() {
  const payload = readPayload();
  if (!payload) return;
  extras = payload.extras;
  if (!payload.layers) {  // A model the page cannot run: the server answers from now on.
    runtime = null;
    delete canvas.dataset.model;
    mirroring = true;
  } else if (window.mnistCnn && window.mnistPreprocess) {
    try {
      runtime = { payload, layers: window.mnistCnn.compile(payload) };
      canvas.dataset.model = payload.id;
      if (strokes.length) predict();
    } catch (error) {
      console.warn("mnist-demo: the in-page model failed, predicting on the server", error);
      runtime = null;
      delete canvas.dataset.model;
    }
  }
  showServerAnswer();
}

window.mnistSketch = {
  // The drawing for the server: the chosen digit's own ink when the pad reads a number.
  inkDataUrl: () => (!strokes.length ? "" : (window.mnistNumberView && window.mnistNumberView.chosenInk())
    || canvas.toDataURL("image/png")),
  outputs: () => [latest.label, latest.picture, latest.hint],
  latest: () => latest,
  takeLabel,
  get runtime() { return runtime; },
  get predictions() { return predictions; },
};
window.addEventListener("mnist-model", takeModel);
takeModel();  // The payload may have come before this script: its words are usable already.
(async () => {
  try {
    for (const url of JSON.parse(props.runtime)) await loadScript(url);
    takeModel();
  } catch (error) {
    console.warn("mnist-demo: no in-page runtime, predicting on the server", error);
  }
})();
