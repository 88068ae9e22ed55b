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


# Pictographs and the emoji variation selector: they show as empty boxes where no emoji font is
# installed. Arrows and other symbols that text fonts carry (DejaVu, Liberation) are fine.
EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u231a-\u23ff\ufe0f]")


def test_nothing_the_page_shows_is_written_with_an_emoji():
    package = STATIC_DIR.parent.parent
    offenders = []
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".js", ".css") and EMOJI.search(path.read_text("utf-8")):
            offenders.append(str(path.relative_to(package)))
    assert offenders == []
