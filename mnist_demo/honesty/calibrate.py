"""Choose the verdict's thresholds on a validation set, and measure them on held-out sets.

Validation (thresholds are chosen here, never on the test set):
- digits: drawing-style canvases (as :mod:`mnist_demo.samples.drawings` makes) of the last 5,000
MNIST
  *training* images, which the shipped weights are trained without (``--subset 55000``); for
  Fashion-MNIST the last 5,000 training items themselves;
- non-digits: :func:`mnist_demo.samples.outliers.non_digits` in the Liberation fonts (training used
  DejaVu) with their own seed; for Fashion-MNIST also held-out MNIST training digits.

``sure`` is the highest top probability that still keeps :data:`KEEP_TARGET` of the validation
digits the model reads right as "digit" (the misread ones are lost whatever the threshold), or
lower where that still leaves :data:`REJECT_TARGET` of the validation non-digits below it: a
model trained with outlier exposure spreads its non-digits' probabilities so far that the
digits can keep more without letting non-digits through. ``unsure`` is the top probability that
:data:`UNSURE_SHARE` of the validation digits fall below, or lower, down to the level
:data:`NOT_A_DIGIT_SHARE` of the validation non-digits fall below, so that there is a band
that says "unsure".

Held-out evaluation (``held_out_report``): non-digits in Pillow's built-in font with other seeds,
drawings of MNIST *test* digits, coarse scans of MNIST test digits, and the test accuracy; for
Fashion-MNIST the test items kept, and the MNIST test digits and non-digits that are not clothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mnist_demo.config import MNIST, dataset_spec
from mnist_demo.data import denormalize, load_split, normalize
from mnist_demo.recognition.preprocess import preprocess
from mnist_demo.recognition.verdict import Thresholds, top_probabilities
from mnist_demo.samples.drawings import CONVENTIONS, make_drawing
from mnist_demo.samples.outliers import non_digits

VALIDATION_START = 55_000
KEEP_TARGET = {"mnist": 0.995, "fashion": 0.95}
REJECT_TARGET = 0.95
NOT_A_DIGIT_SHARE = 0.9
UNSURE_SHARE = 0.005
VALIDATION_SEED = 101
# The validation sets in each dataset's words, as the verdict's own words
# (mnist_demo.recognition.verdict.WORDS) say "digit" or "clothing": (kept, rejected), plural.
SET_WORDS = {"mnist": ("digits", "non-digits"), "fashion": ("items", "non-clothing images")}


def logits_of(model: torch.nn.Module, images: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    model.eval()
    with torch.inference_mode():
        return torch.cat([model(images[i : i + batch]) for i in range(0, len(images), batch)])


def drawn(images: torch.Tensor, labels: torch.Tensor, seed: int) -> torch.Tensor:
    """MNIST images redrawn as canvases in every colour convention, then preprocessed."""
    tensors = []
    for position, (image, label) in enumerate(zip(images, labels, strict=True)):
        pixels = denormalize(image[0], MNIST).numpy()
        convention = CONVENTIONS[position % len(CONVENTIONS)]
        drawing = make_drawing(pixels, int(label), position, convention, seed)
        tensors.append(preprocess(drawing.image).tensor)
    return torch.cat(tensors)


def validation_sets(dataset: str, count: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(digits, their labels, non-digits) for choosing thresholds, all model inputs."""
    spec = dataset_spec(dataset)
    held = load_split(spec.name, train=True)
    images = held.images[VALIDATION_START : VALIDATION_START + count]
    labels = held.labels[VALIDATION_START : VALIDATION_START + count]
    outliers = non_digits(count, VALIDATION_SEED, "validation", spec)
    if spec.name == "mnist":
        return drawn(images, labels, VALIDATION_SEED), labels, outliers
    digits = load_split("mnist", train=True).images[VALIDATION_START : VALIDATION_START + count]
    digits = normalize(denormalize(digits, MNIST), spec)
    return images, labels, torch.cat([outliers, digits])


def choose_thresholds(
    top: torch.Tensor,
    correct: torch.Tensor,
    keep_target: float,
    unsure_share: float,
    outlier_top: torch.Tensor | None = None,
    reject_target: float = REJECT_TARGET,
) -> Thresholds:
    """See the module docstring. ``top`` and ``correct`` are the validation digits',
    ``outlier_top`` the validation non-digits' top probabilities (None: digits alone decide)."""
    right = torch.sort(top[correct], descending=True).values
    if not len(right):
        raise ValueError("no validation digit is read right: there is nothing to keep")
    needed = int(np.ceil(keep_target * len(right)))
    sure = float(right[needed - 1])
    unsure = float(torch.quantile(top.float(), unsure_share))
    if outlier_top is not None and len(outlier_top):
        ordered = torch.sort(outlier_top).values
        # The lowest level that still has reject_target of the non-digits strictly below it...
        below = int(np.ceil(reject_target * len(ordered)))
        sure = min(sure, float(ordered[below - 1]) + 1e-4)
        # ...and under it a band, down to where NOT_A_DIGIT_SHARE of them fall, that says unsure.
        unsure = min(unsure, float(torch.quantile(outlier_top.float(), NOT_A_DIGIT_SHARE)))
    unsure = min(unsure, sure)
    # Rounded down, so that the stored numbers keep what they were chosen to keep.
    return Thresholds(np.floor(sure * 1e4) / 1e4, np.floor(unsure * 1e4) / 1e4)


@dataclass(frozen=True)
class Rates:
    kept: float  # Digits given the positive verdict and the right class.
    rejected: float  # Non-digits given any other verdict.
    said_not: float  # Non-digits given the negative verdict itself.


def rates(thresholds: Thresholds, digit_logits, labels, outlier_logits) -> Rates:
    top = top_probabilities(digit_logits)
    kept = ((top >= thresholds.sure) & (digit_logits.argmax(1) == labels)).double().mean()
    outlier_top = top_probabilities(outlier_logits)
    return Rates(
        float(kept),
        float((outlier_top < thresholds.sure).double().mean()),
        float((outlier_top < thresholds.unsure).double().mean()),
    )


def held_out_note(train_config: dict) -> str:
    """Whether the validation images were really held out from these weights' training."""
    subset = train_config.get("subset")
    if subset is not None and subset <= VALIDATION_START:
        return "held-out training images"
    return (
        "training images these weights WERE trained on (they were trained on all 60,000, so "
        "the thresholds are optimistic: retrain with --subset 55000 for a true hold-out)"
    )


def calibrate(
    model: torch.nn.Module, dataset: str, count: int = 2000, train_config: dict | None = None
) -> dict:
    """Thresholds for ``model`` and how they do on the validation sets (a sidecar "verdict")."""
    digits, labels, outliers = validation_sets(dataset, count)
    digit_logits, outlier_logits = logits_of(model, digits), logits_of(model, outliers)
    correct = digit_logits.argmax(1) == labels
    keep_target = KEEP_TARGET[dataset_spec(dataset).name]
    thresholds = choose_thresholds(
        top_probabilities(digit_logits),
        correct,
        keep_target,
        UNSURE_SHARE,
        top_probabilities(outlier_logits),
    )
    measured = rates(thresholds, digit_logits, labels, outlier_logits)
    note = held_out_note(train_config or {})
    return {
        **thresholds.to_dict(),
        "score": "top softmax probability",
        "chosen_on": chosen_on(dataset, len(digits), len(outliers), note),
        # The keys stay "digits"/"non_digits" for every dataset: readers of sidecars look them up.
        "validation": {"digits_kept": measured.kept, "non_digits_rejected": measured.rejected},
    }


def chosen_on(dataset: str, kept_count: int, rejected_count: int, note: str) -> str:
    """How the thresholds were chosen, in the dataset's own words (see :data:`SET_WORDS`):
    ``kept_count`` validation images of the dataset, ``rejected_count`` of everything else."""
    spec = dataset_spec(dataset)
    kept, rejected = SET_WORDS[spec.name]
    if spec.name == "mnist":
        how, sources = "drawn as canvases", "fonts and seeds not used in training"
    else:
        how = "as they are"
        sources = "non-digits in fonts and seeds not used in training, and held-out MNIST digits"
    return (
        f"validation: {kept_count} {note} ({how}) and {rejected_count} {rejected} ({sources}); "
        f"never the test set. sure keeps {KEEP_TARGET[spec.name]:.1%} of the {kept} read right, "
        f"or more where {REJECT_TARGET:.0%} of the {rejected} still fall below it; "
        f"{UNSURE_SHARE:.1%} of the {kept} fall below unsure, or fewer where "
        f"{NOT_A_DIGIT_SHARE:.0%} of the {rejected} sit lower still"
    )
