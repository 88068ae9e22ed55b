"""Pieces cut from composed numbers: which count as digits, which as not, for training."""

import numpy as np
import pytest
import torch

from mnist_demo.config import MNIST, shipped_weights_path
from mnist_demo.recognition.inference import Predictor
from mnist_demo.samples.pieces import judge, number_pieces


def strokes(shape, *boxes):
    """A canvas mask per box (top, left, bottom, right): a filled rectangle of ink."""
    masks = []
    for top, left, bottom, right in boxes:
        mask = np.zeros(shape, bool)
        mask[top:bottom, left:right] = True
        masks.append(mask)
    return masks


MASKS = strokes((40, 80), (5, 5, 35, 25), (5, 30, 35, 50))  # Two digits, each 30 tall, 20 wide.


def part(top, left, bottom, right, origin=(0, 0)):
    """The digits' ink inside a box, as a part cut at ``origin`` of the canvas."""
    cut = np.zeros((40, 80), np.uint8)
    cut[top:bottom, left:right] = 255
    cut[~np.logical_or(*MASKS)] = 0
    return cut[origin[0] :, origin[1] :]


def test_a_clean_cut_is_its_digit():
    assert judge(part(5, 5, 35, 25), (0, 0), MASKS, "47", "4") == 4
    assert judge(part(5, 30, 35, 50, (0, 28)), (0, 28), MASKS, "47", "7") == 7


def test_a_pair_or_a_neighbours_stroke_is_not_a_digit():
    assert judge(part(5, 5, 35, 50), (0, 0), MASKS, "47", "4") == -1  # Both digits.
    assert judge(part(5, 5, 35, 38), (0, 0), MASKS, "47", "4") == -1  # A 4 and 8 columns of 7.
    assert judge(part(5, 5, 35, 34), (0, 0), MASKS, "47", "4") == -1  # 4 columns: 17% extra.
    assert judge(part(5, 5, 35, 32), (0, 0), MASKS, "47", "4") is None  # 2 columns: in between.


def test_a_half_is_not_a_digit_unless_it_reads_as_its_own_digit_or_as_a_narrow_1():
    half = part(5, 5, 35, 16)  # 11 of the 4's 20 columns: 55% of its ink.
    assert judge(half, (0, 0), MASKS, "47", "2") == -1
    assert judge(half, (0, 0), MASKS, "47", "4") is None  # Read as a 4: harms no reading.
    assert judge(half, (0, 0), MASKS, "47", "1") is None  # A stem is a 1.
    assert judge(half, (0, 0), MASKS, "17", "2") is None  # Parts of a 1 are left out.
    top = part(5, 5, 20, 25)  # The 4's top half: 20 wide, 15 tall, no stem.
    assert judge(top, (0, 0), MASKS, "47", "1") == -1


def test_narrow_and_empty_parts_are_left_out():
    assert judge(part(5, 5, 35, 12), (0, 0), MASKS, "47", "2") is None  # 7 wide, 30 tall.
    assert judge(np.zeros((40, 80), np.uint8), (0, 0), MASKS, "47", "2") is None


@pytest.mark.slow
def test_pieces_of_training_numbers_are_model_inputs_and_a_seed_repeats_them():
    predictor = Predictor.from_checkpoint(shipped_weights_path("mnist"))
    first = number_pieces(12, 3, 1_000, predictor)
    again = number_pieces(12, 3, 1_000, predictor)
    assert torch.equal(first.not_digits, again.not_digits) and torch.equal(
        first.digits, again.digits
    )
    assert len(first.not_digits) > 12 and len(first.digits) > 12
    assert first.digits.shape[1:] == (1, 28, 28) and len(first.labels) == len(first.digits)
    background = (0 - MNIST.mean) / MNIST.std
    # MNIST's empty border, as the app's preprocessing leaves it: the centre-of-mass shift may
    # push a lopsided part (a stem with a heavy top) to the edge, as it does such a drawing.
    edges = first.not_digits[:, 0, [0, -1], :]
    empty = torch.isclose(edges, torch.tensor(background)).flatten(1).all(1)
    assert empty.double().mean() > 0.8
    # The clean cuts are labelled right: the shipped model reads nearly all of them so.
    with torch.inference_mode():
        read = predictor.model.eval()(first.digits).argmax(1)
    assert (read == first.labels).double().mean() > 0.9
