"""Inside the network: the current drawing followed through preprocessing and the layers.

Two panels under the Draw tab's canvas, updated after every stroke while they are open. Each
picture is computed from the latest drawing by the model in use (shipped or the visitor's own)
with the pure functions of :mod:`mnist_demo.teaching.analysis`; this module lays them out and says
in one sentence what each shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np
import pandas as pd

from mnist_demo.pictures import INPUT_SCALE, enlarge
from mnist_demo.recognition.inference import Predictor
from mnist_demo.recognition.model import count_parameters
from mnist_demo.recognition.preprocess import preprocess
from mnist_demo.serving.session import Session
from mnist_demo.teaching import analysis
from mnist_demo.teaching.steps import preprocessing_steps
from mnist_demo.ui.guards.policy import PAGE_GROUP
from mnist_demo.ui.inline import image_html, pixel_gallery
from mnist_demo.ui.notes import problem

PREDICTED = "the predicted class"
STEP_SCALE = 6  # Preprocessing pictures are small: enlarge them with hard pixel edges...
STEP_LARGEST = 100  # ...but not the drawing's full ink map, which is large already.

EXPLAIN = {
    "input": "The 28×28 image the network receives: your drawing after preprocessing.",
    "filters": (
        "The 16 first-layer filters: 3×3 weights the network learned. Red weights reward ink, "
        "blue ones punish it, so each filter looks for one small edge or stroke direction."
    ),
    "conv1": (
        "Block 1 (16×28×28): each filter slid over the image. Bright where that filter's "
        "pattern appears in your drawing."
    ),
    "pool1": (
        "After max-pooling (16×14×14): each 2×2 patch keeps its strongest response, so the "
        "map halves in size and tolerates small shifts."
    ),
    "conv2": (
        "Block 2 (32×14×14): 32 filters that combine block 1's maps into larger parts: "
        "loops, corners, crossings."
    ),
    "pool2": (
        "After pooling again (32×7×7): these 1,568 numbers are all the classifier sees "
        "of your drawing."
    ),
    "saliency": (
        "Where the evidence is: pixels that pushed the chosen class's score up. "
        "Pick another class to see what would have argued for it."
    ),
    "layers": "Every layer in order, the shape of what it outputs, and its learned parameters.",
}


@dataclass
class InsideViews:
    """Everything the tab shows for one drawing (pictures are RGB or greyscale uint8 arrays)."""

    message: str
    probabilities: dict[str, float] | None = None
    model_input: np.ndarray | None = None
    saliency: np.ndarray | None = None
    saliency_caption: str = ""
    maps: dict[str, np.ndarray] | None = None


def class_index(choice: str | None, probabilities: dict[str, float], names) -> int:
    if choice and choice != PREDICTED and choice in names:
        return list(names).index(choice)
    return list(names).index(max(probabilities, key=probabilities.__getitem__))


def inside_views(drawing, choice: str | None, predictor: Predictor) -> InsideViews:
    """Preprocess once, then feature maps, probabilities and saliency from that one input."""
    try:
        prepared = None if drawing is None else preprocess(drawing, predictor.spec)
    except ValueError as error:
        return InsideViews(problem(error))
    if prepared is None or prepared.blank:
        return InsideViews("Draw something on the pad above: every panel here follows it.")
    model = predictor.model
    probabilities = predictor.predict_tensor(prepared.tensor)
    names = predictor.class_names
    target = class_index(choice, probabilities, names)
    heat = analysis.saliency(model, prepared.tensor, target)
    maps = analysis.feature_maps(model, prepared.tensor)
    # Sixteen maps as a 4x4 grid, thirty-two as 8x4; each map drawn at about 56 pixels.
    pictures = {
        "conv1": analysis.tile(maps["conv1"], columns=4, scale=2),
        "pool1": analysis.tile(maps["pool1"], columns=4, scale=4),
        "conv2": analysis.tile(maps["conv2"], columns=8, scale=4),
        "pool2": analysis.tile(maps["pool2"], columns=8, scale=8),
    }
    top = max(probabilities, key=probabilities.__getitem__)
    return InsideViews(
        message=f"The model reads this as **{top}** ({probabilities[top]:.0%}).",
        probabilities=probabilities,
        model_input=enlarge(prepared.picture, INPUT_SCALE),
        saliency=analysis.overlay(prepared.picture, heat, INPUT_SCALE),
        saliency_caption=f"Evidence for **{names[target]}** ({probabilities[names[target]]:.0%})",
        maps=pictures,
    )


def filters_picture(predictor: Predictor) -> np.ndarray:
    filters = analysis.first_layer_filters(predictor.model)
    return analysis.tile(filters, columns=8, scale=16, signed=True, gap=6)


def layers_frame(predictor: Predictor) -> pd.DataFrame:
    rows = [
        {
            "layer": row.name,
            "type": row.kind,
            "output shape": " × ".join(map(str, row.output_shape)),
            "parameters": row.parameters,
        }
        for row in analysis.layer_table(predictor.model)
    ]
    total = count_parameters(predictor.model)
    rows.append({"layer": "total", "type": "", "output shape": "", "parameters": total})
    return pd.DataFrame(rows)


def preprocessing_views(drawing, crop: bool, fit: bool, centre: bool, predictor: Predictor):
    """The steps as (picture, caption) pairs, and the prediction this path leads to."""
    if drawing is None:
        steps, tensor = [], None
    else:
        try:
            steps, tensor = preprocessing_steps(
                drawing, predictor.spec, crop=crop, fit=fit, centre=centre
            )
        except ValueError as error:
            return [], None, problem(error)
    if tensor is None:
        return [], None, "Draw something on the pad above to see its path to the network."
    # Short captions fit under a thumbnail; the full explanations are listed in the note.
    gallery = [
        (step_thumbnail(step.picture), f"{number}. {step.name}")
        for number, step in enumerate(steps, start=1)
    ]
    explained = "\n".join(
        f"{number}. **{step.name}**: {step.explanation}"
        for number, step in enumerate(steps, start=1)
    )
    probabilities = predictor.predict_tensor(tensor)
    top = max(probabilities, key=probabilities.__getitem__)
    skipped = [name for name, on in (("crop", crop), ("fit", fit), ("centre", centre)) if not on]
    if skipped:
        note = (
            f"With **{', '.join(skipped)}** skipped the model reads **{top}** "
            f"({probabilities[top]:.0%}). Switch the steps back on to compare."
        )
    else:
        note = f"The full path, as the Draw tab uses it: **{top}** ({probabilities[top]:.0%})."
    return gallery, probabilities, f"{note}\n\n{explained}"


def step_thumbnail(picture: np.ndarray) -> np.ndarray:
    small = max(picture.shape[:2]) <= STEP_LARGEST
    return enlarge(picture, STEP_SCALE) if small else picture


@dataclass
class Panels:
    """The two accordions and how to refresh everything in them."""

    accordions: tuple[gr.Accordion, gr.Accordion]
    refresh: object  # (target, crop, fit, centre, session) -> outputs
    inputs: list
    outputs: list


def build_inside_panels(session: gr.State) -> Panels:
    """Lay out the two panels (closed); the caller wires them to the canvas."""
    with gr.Accordion("Inside the network", open=False, elem_id="inside") as inside:
        network_outputs = build_network_panel()
    with gr.Accordion("How preprocessing matters", open=False, elem_id="preprocessing") as prep:
        path_outputs = build_preprocessing_panel()
    target, *network_shown = network_outputs
    switches, path_shown = path_outputs

    def refresh(choice, crop_on, fit_on, centre_on, state: Session):
        predictor = state.predictor()
        views = inside_views(state.drawing, choice, predictor)
        maps = views.maps or {}
        gallery, path_probs, note = preprocessing_views(
            state.drawing, crop_on, fit_on, centre_on, predictor
        )
        choices = [PREDICTED, *predictor.class_names]
        return (
            gr.Dropdown(choices=choices, value=choice if choice in choices else PREDICTED),
            views.message,
            image_html(views.model_input, "The model's input"),
            views.probabilities,
            image_html(views.saliency, "Saliency over the model's input"),
            views.saliency_caption,
            image_html(filters_picture(predictor), "The first layer's 16 filters"),
            *(image_html(maps.get(name), label) for name, label in MAPS.items()),
            layers_frame(predictor),
            gallery,
            note,
            path_probs,
        )

    inputs = [target, *switches, session]
    outputs = [target, *network_shown, *path_shown]
    for control in (target, *switches):
        control.input(refresh, inputs, outputs, show_progress="hidden", concurrency_id=PAGE_GROUP)
    return Panels((inside, prep), refresh, inputs, outputs)


MAPS = {
    "conv1": "Block 1 feature maps",
    "pool1": "Block 1 pooled",
    "conv2": "Block 2 feature maps",
    "pool2": "Block 2 pooled",
}


def picture(label: str, elem_id: str, height: int | None = None) -> gr.HTML:
    """A labelled panel for a picture sent inline (see inline.py); ``height`` is a minimum."""
    return gr.HTML(label=label, show_label=True, container=True, min_height=height, elem_id=elem_id)


def build_network_panel() -> list:
    message = gr.Markdown(elem_id="inside-message")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=220):
            model_input = picture("Model input (28×28)", "inside-input", 224)
            gr.Markdown(EXPLAIN["input"])
            probabilities = gr.Label(num_top_classes=10, label="Output probabilities")
        with gr.Column(scale=1, min_width=260):
            target = gr.Dropdown(
                [PREDICTED, *map(str, range(10))],
                value=PREDICTED,
                label="Show the evidence for",
                elem_id="saliency-target",
            )
            saliency_image = picture("Saliency", "saliency", 224)
            saliency_caption = gr.Markdown()
            gr.Markdown(EXPLAIN["saliency"])
        with gr.Column(scale=1, min_width=260):
            filters = picture("First-layer filters (16 × 3×3)", "filters", 120)
            gr.Markdown(EXPLAIN["filters"])
    map_images = []
    names = list(MAPS)
    for pair in (names[:2], names[2:]):  # Block 1, then block 2: before and after pooling.
        with gr.Row(equal_height=False):
            for name in pair:
                with gr.Column(min_width=300):
                    map_images.append(picture(MAPS[name], f"maps-{name}", 260))
                    gr.Markdown(EXPLAIN[name])
    with gr.Accordion("Layers, shapes and parameters", open=False):
        gr.Markdown(EXPLAIN["layers"])
        layers = gr.Dataframe(interactive=False, elem_id="layer-table")
    return [
        target,
        message,
        model_input,
        probabilities,
        saliency_image,
        saliency_caption,
        filters,
        *map_images,
        layers,
    ]


def build_preprocessing_panel():
    gr.Markdown(
        "MNIST digits are cropped, fitted into a 20×20 box and centred by their centre of mass "
        "in 28×28. Switch steps off to feed your drawing the naive way and watch the "
        "prediction change (try a small digit drawn in a corner)."
    )
    with gr.Row():
        crop = gr.Checkbox(True, label="crop to the ink", elem_id="step-crop")
        fit = gr.Checkbox(True, label="fit into 20×20", elem_id="step-fit")
        centre = gr.Checkbox(True, label="centre by centre of mass", elem_id="step-centre")
    with gr.Row(equal_height=False):
        steps = pixel_gallery("Preprocessing steps", "steps", columns=5, height=260)
        with gr.Column(min_width=220):
            path_note = gr.Markdown(elem_id="path-note")
            path_probabilities = gr.Label(num_top_classes=3, label="Prediction from this path")
    return [crop, fit, centre], [steps, path_note, path_probabilities]
