"""How a drawing is split into digits, for teaching: the "How it splits" panel's words.

The panel is drawn in the page (static/numbers_steps.js) from the reader's own record of its steps
(static/numbers.js, the port of mnist_demo.numbers: no second segmentation). Its sentences are
written once here and travel in the page's payload (:func:`table`, as ``extras["splits"]``), as
the verdict's words do; the page fills each ``{name}`` with the step's counts. One caption per step
of mnist_demo.numbers.segment and .read, in order.
"""

from __future__ import annotations

from typing import Any

STEPS = (
    # 1-2: the working grid and its blobs (mnist_demo.numbers.blobs).
    ("blobs", "1. Blobs of ink", "{blobs} of ink, each one connected stroke{grid}."),
    ("grid", "", " (on a grid {factor}× smaller than the drawing)"),
    # 3: merge_dots.
    ("dots", "2. Dots", "{joined} the nearest piece; {specks} left out."),
    # 4: merge_overlaps.
    (
        "overlaps",
        "3. One above the other",
        "Pieces sharing most of their columns are one digit (a 5's bar, a 4 in two strokes): "
        "{before} → {after}.",
    ),
    # 5-6: merge_fragments, then in_order.
    (
        "fragments",
        "4. Fragments",
        "A piece much shorter than the others joins its nearest: {before} → {after}, "
        "then left to right.",
    ),
    # 7: close neighbours, judged by the network (read.Reader.merge_close).
    ("close", "5. Close neighbours", "{pairs} almost touching: {outcomes}."),
    ("close_none", "5. Close neighbours", "No two pieces are close enough to be one digit."),
    ("joined", "", "read surer as one digit: joined"),
    ("apart", "", "read surer as two: kept apart"),
    # Cuts (mnist_demo.numbers.cuts): candidates faint, the chosen ones dark.
    (
        "cuts",
        "6. Cuts",
        "{wide}: {whole} read whole with confidence, {cut} cut where the network is surest "
        "and the cut goes through few strokes (a 0 cut in two is two sure 1s, but its loop is "
        "cut twice) ({tried} tried; faint lines), {reads} readings in all.",
    ),
    ("cuts_none", "6. Cuts", "No piece is wide enough to hold two digits."),
    (
        "cuts_off",
        "6. Cuts",
        "Not tried: one piece of ink is one digit unless Touching digits is ticked (or the pen "
        "is still moving).",
    ),
    # The digits, each read as a lone digit is.
    ("digits", "7. Digits", "{digits}, left to right: {number}."),
    ("lone", "7. Digits", "One digit: read as a lone digit is, the whole drawing."),
)
# Counted nouns: "1 blob" / "3 blobs".
NOUNS = {
    "blob": ("separate blob", "separate blobs"),
    "dot": ("dot joins", "dots join"),
    "speck": ("speck is", "specks are"),
    "pair": ("pair", "pairs"),
    "wide": ("wide piece", "wide pieces"),
    "digit": ("digit", "digits"),
    "cut": ("cut", "cuts"),
}
EMPTY = "Draw a number (or a digit) to see how the page splits it into digits."


def table() -> dict[str, Any]:
    """The panel's words as plain JSON data: ``steps`` (name -> [title, template]), ``nouns``
    (name -> [one, many]) and ``empty`` (before the first stroke)."""
    return {
        "steps": {name: [title, template] for name, title, template in STEPS},
        "nouns": {name: list(forms) for name, forms in NOUNS.items()},
        "empty": EMPTY,
    }
