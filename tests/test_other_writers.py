"""Other writers: the UCI optical digits as the app reads them, and scans made like them."""

import numpy as np
import pytest

from mnist_demo.config import shipped_weights_path
from mnist_demo.recognition.inference import Predictor
from mnist_demo.samples.coarse import optdigits_scan
from mnist_demo.samples.optdigits import CANVAS, blown_up, iter_other_writers

pytest.importorskip("sklearn", reason="the other writers' digits come with scikit-learn")


def test_the_two_halves_split_the_set_and_take_turns_blocky_and_smooth():
    validation = list(iter_other_writers("validation"))
    report = list(iter_other_writers("report"))
    assert len(validation) + len(report) == 1797
    assert not {d.index for d in validation} & {d.index for d in report}
    assert {d.smooth for d in report[:2]} == {False, True}
    assert all(0 <= d.label <= 9 for d in report)
    with pytest.raises(ValueError, match="unknown half"):
        next(iter_other_writers("test"))


def test_a_blown_up_grid_is_black_ink_on_white_and_blocky_only_when_asked():
    levels = np.zeros((8, 8))
    levels[1:7, 3:5] = 16  # A stem.
    blocky, smooth = blown_up(levels, False), blown_up(levels, True)
    assert blocky.shape == smooth.shape == (CANVAS, CANVAS)
    assert blocky[0, 0] == 255 and blocky[CANVAS // 2, CANVAS // 2] == 0
    assert len(np.unique(blocky)) == 2 and len(np.unique(smooth)) > 2


def test_optdigits_scans_of_training_digits_are_black_on_white_and_repeat_with_the_seed():
    pixels = np.zeros((28, 28))
    pixels[6:22, 12:16] = 1.0
    first = optdigits_scan(pixels, np.random.default_rng(4))
    assert np.array_equal(first, optdigits_scan(pixels, np.random.default_rng(4)))
    assert first.dtype == np.uint8 and first.max() == 255 and (first < 128).mean() > 0.01
    assert first.shape[0] == first.shape[1] and 280 <= first.shape[0] <= 560


@pytest.mark.slow
def test_the_shipped_model_reads_other_writers():
    from mnist_demo.honesty.report import other_writers_read

    report = other_writers_read(Predictor.from_checkpoint(shipped_weights_path("mnist")))
    # Measured 95.3% (blocky 95.1%, smooth 95.5%); the weights before (no optdigits-like scans in
    # training) 92.4% (94.2% / 90.6%).
    assert report["count"] == 898 and report["right"] >= 0.945, report
