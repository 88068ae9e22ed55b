"""The page's scripts and styles live in ui/static/, and the Python hands them to Gradio as text."""

from __future__ import annotations

import re

from mnist_demo.ui.page_files import STATIC_DIR, static_text
from mnist_demo.ui.tabs.draw import SKETCHPAD_ID

# Scripts for an event's js=: Gradio evaluates each as one function expression.
EVENT_SCRIPTS = (
    "select_brush.js",
    "ink_input.js",
    "page_answer.js",
    "label_to_pad.js",
    "copy_link.js",
)


def test_every_event_script_is_one_function_expression_with_comments_inside():
    for name in EVENT_SCRIPTS:
        text = static_text(name).strip()
        assert re.match(r"^\([\w.,\s]*\)\s*=>\s*\{", text), name
        assert text.endswith("}"), name


def test_the_brush_script_presses_the_sketchpads_own_brush():
    assert f"#{SKETCHPAD_ID} " in static_text("select_brush.js")


def test_the_pads_script_is_the_wording_then_the_pad():
    joined = static_text("wording.js", "sketch.js")
    assert joined.index("root.mnistWording =") < joined.index("window.mnistWording")


def test_no_python_file_under_ui_holds_a_script_or_a_style():
    for path in (STATIC_DIR.parent).rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "<script" not in text and "<style" not in text, path
        assert not re.search(r"\bjs=\"", text), path
