"""The Retrain tab's controls, made from the options table (:mod:`mnist_demo.training.options`): one
Gradio component per option, and the Start handler's parameters named after them."""

from __future__ import annotations

import inspect

import gradio as gr

from mnist_demo.config import DATASETS
from mnist_demo.serving.trainer import Budget
from mnist_demo.training.options import CONTROLS, DEFAULTS, OPTIONS

DATASET_CHOICES = [(spec.title, spec.name) for spec in DATASETS.values()]


def control(name: str, budget: Budget) -> gr.components.Component:
    """The Retrain control for one row of the options table: its label, default and offers."""
    option, default = OPTIONS[name], DEFAULTS[name]
    if name == "dataset":
        return gr.Radio(DATASET_CHOICES, value=default, label=option.label)
    if option.kind is bool:
        return gr.Checkbox(value=default, label=option.label, info=option.info)
    if option.choices:
        return gr.Radio(list(option.choices), value=default, label=option.label)
    if option.offered:
        dropdown = gr.Dropdown(list(option.offered), value=default, label=option.label)
        return numbers_in_api(dropdown)
    low, high = option.span
    if option.step is None:  # Gradio refuses a number outside the box's ends, from the API too.
        return gr.Number(default, precision=0, minimum=low, maximum=high, label=option.label)
    if high is None:  # The host's epoch limit: a host that allows one still gets its note.
        high, default = max(2, budget.max_epochs), min(default, budget.max_epochs)
    value = high if default is None else default  # subset=None: all the training images.
    return gr.Slider(low, high, value=value, step=option.step, label=option.label)


def numbers_in_api(dropdown: gr.Dropdown) -> gr.Dropdown:
    """Gradio 6.31 lists any Dropdown as strings in /gradio_api/info, then refuses "0.001" for
    0.001: describe numeric choices as numbers, which is what the server accepts."""
    choices = [value for _, value in dropdown.choices]
    dropdown.api_info = lambda: {"type": "number", "enum": choices}
    return dropdown


def with_control_parameters(handler) -> None:
    """Give ``handler(*inputs)`` one named positional parameter per control, then the session
    and the request: Gradio finds gr.Request, and names the /train API's parameters, only from a
    function's positional parameters (not from ``*args``)."""
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [inspect.Parameter(name, positional) for name in (*CONTROLS, "state")]
    parameters.append(inspect.Parameter("request", positional, annotation=gr.Request))
    handler.__signature__ = inspect.Signature(parameters)
    handler.__annotations__ = {"request": gr.Request}
