"""Every constant of reading a whole number, in one place, as plain JSON-able data.

A later "How it splits" panel and the page's JavaScript port read the same values
(:meth:`SegmentSettings.to_dict`), as the preprocessing constants travel to the page. Lengths are
in working-grid pixels or, when named a fraction, fractions of a piece's height.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class SegmentSettings:
    """How a drawing is cut into digits (see mnist_demo.numbers.segment and .cuts)."""

    # The working grid: the drawing is max-pooled by a whole factor so that its ink is about
    # this many pixels tall (never enlarged), and no side passes work_max_side. Segmentation
    # runs there; each digit is then cut from the full-resolution ink.
    work_height: int = 64
    work_max_side: int = 2048
    # Beyond these counts the drawing is refused before any digit is read: bounded time.
    max_runs: int = 200_000  # Horizontal runs of ink on the working grid.
    max_components: int = 400  # Separate blobs of ink before merging.
    max_pieces: int = 12  # Digits in one number.
    max_reads: int = 400  # Model calls spent choosing cuts, over the whole drawing.
    # A blob whose longer side is under this fraction of the tallest blob's height is a dot: it
    # joins the nearest piece within dot_reach heights of it, or is left out as a speck.
    dot_fraction: float = 0.2
    dot_reach: float = 0.5
    # A piece under fragment_fraction of the pieces' median height (a 5's bar beside its body, a
    # 7's crossbar) is part of a digit: it joins the nearest piece within dot_reach heights.
    fragment_fraction: float = 0.5
    # Two pieces whose columns overlap by this fraction of the narrower one, and no farther apart
    # up or down than merge_reach of the taller one's height, are one digit (a 5's detached bar
    # over its body, a 4 drawn in two strokes, a broken loop; not two rows of digits).
    merge_overlap: float = 0.5
    merge_reach: float = 0.25
    # Neighbours closer than merge_gap of the taller one's height (a 4 whose strokes miss each
    # other) are read apart and together, once each: the model's surer reading wins.
    merge_gap: float = 0.12
    # A piece wider than split_aspect times its height may hold several digits, unless the
    # model reads it whole with at least keep_above (a 5 with a long bar) and it is no wider
    # than force_aspect times its height. Chosen on numbers of training digits.
    split_aspect: float = 0.9
    keep_above: float = 0.995
    force_aspect: float = 2.0
    # Cutting: each part is at least part_min_height of its piece's height (not a sliver of a
    # stroke) and between min_part and max_part of its own height wide (the piece kept whole:
    # up to whole_max_part, a wide 7 or 5); each part costs cut_cost in log-probability, and each
    # cut sever_cost per stroke it goes through beyond sever_free (touching digits meet in one
    # stroke; a cut through a 0's loop goes through two, and its halves read as "1"s).
    part_min_height: float = 0.65
    min_part: float = 0.08
    max_part: float = 1.4
    whole_max_part: float = 1.8
    cut_cost: float = 0.0
    sever_cost: float = 0.5
    sever_free: int = 1
    # Valleys of the column projection (no column within cut_spacing heights has less ink) tried
    # as cut places, per expected digit; at each, a straight cut and a drop falling from the top
    # and from the bottom, which slides around ink at most drop_drift heights from its valley.
    cuts_per_digit: int = 3
    cut_spacing: float = 0.08
    drop_drift: float = 0.3
    # The expected width of a digit, as a fraction of its height, for counting them.
    digit_aspect: float = 0.6

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data: every field is a number."""
        return asdict(self)


SETTINGS = SegmentSettings()
