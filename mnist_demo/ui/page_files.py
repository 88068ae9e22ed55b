"""The page's own files in static/: scripts and styles kept as files, handed to Gradio as text.

Scripts for an event's ``js=`` hold one function expression, with any comment inside its body
(Gradio evaluates the text as the function); scripts for a gr.HTML's ``js_on_load`` are a
function body. Read when the app is built, never at import.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"


def static_text(*names: str) -> str:
    """The named files of static/, joined by newlines (a pad script is two files)."""
    return "\n".join((STATIC_DIR / name).read_text(encoding="utf-8") for name in names)
