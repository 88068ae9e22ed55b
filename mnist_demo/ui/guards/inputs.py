"""A bad value from a client costs one short line, in the reply and in the log.

Gradio 6.31 refuses a value outside a Radio's or Dropdown's choices, or past a Number's ends,
with a ``gr.Error`` that quotes the value whole and prints a traceback (``print_exception``
defaults to True); a call with too few values raises an error quoting every value it sent. A
5 MB optimizer name grew the log by 5 MB and came back in the reply. Here every error before the
function runs (Gradio's checks, each component's preprocess, our image guards) becomes one
``gr.Error`` of at most ``SHOWN_CHARACTERS`` of the original, logged in one line.
"""

from __future__ import annotations

import functools
import logging
import re

import gradio as gr

from mnist_demo.ui.guards.lines import one_line

logger = logging.getLogger(__name__)
# Gradio's wrapper for an input that failed to convert names its place in this form.
AT_INDEX = re.compile(r"input component at index (\d+)")


def guard_inputs(demo: gr.Blocks) -> None:
    """Wrap ``demo``'s input processing (call once, after building it)."""
    preprocess_data = demo.preprocess_data

    @functools.wraps(preprocess_data)
    async def checked(block_fn, inputs, state, *args, **kwargs):
        try:
            return await preprocess_data(block_fn, inputs, state, *args, **kwargs)
        except Exception as error:  # noqa: BLE001 (every refusal gets the same one line)
            message = one_line(refusal(error, block_fn))
            logger.warning("refused a call to %s: %s", block_fn.api_name or block_fn.name, message)
            raise gr.Error(message, print_exception=False) from None

    demo.preprocess_data = checked


def refusal(error: Exception, block_fn) -> str:
    """What to tell the client: a gr.Error's message, or the input's label and what failed."""
    if isinstance(error, gr.Error):
        return str(error.message)
    place = AT_INDEX.search(str(error))
    if error.__cause__ is not None and place and int(place.group(1)) < len(block_fn.inputs):
        block = block_fn.inputs[int(place.group(1))]
        name = getattr(block, "label", None) or block.get_block_name()
        return f"{name}: {one_line(error.__cause__)}"
    return str(error)
