"""A class run's model card: what it is, how well it did, what it saw, how to make it again."""

from __future__ import annotations

from pathlib import Path

from mnist_demo.classroom.records import RunRecord
from mnist_demo.pictures import new_figure, save_figure
from mnist_demo.training.options import DEFAULTS, OPTIONS, TRAIN_IMAGES


def reproduce_command(settings: dict, out: str) -> str:
    """The ``mnist-demo train`` command for these settings: a flag for every value that is not
    the lesson's default (the options table says each flag's spelling)."""
    words = ["mnist-demo", "train"]
    for name, option in OPTIONS.items():
        if not option.flag or name not in settings:
            continue
        value = settings[name]
        if value == DEFAULTS[name] or value is None:
            continue
        if option.switch is not None:
            if value == option.switch:
                words.append(option.flag)
        elif option.words:
            words += [option.flag, next(w for w, v in option.words.items() if v == value)]
        else:
            words += [option.flag, f"{value:g}" if isinstance(value, float) else str(value)]
    if settings.get("device"):  # The CLI's own default is "auto": name the run's device.
        words += ["--device", str(settings["device"])]
    # "--out=": a run id may start with "-", which argparse would take for a flag.
    return " ".join([*words, f"--out={out}"])


def percent(value: float | None) -> str:
    return "not scored" if value is None else f"{value:.2%}"


def save_curves(run: RunRecord, path: Path) -> Path | None:
    """The run's loss and accuracy curves (the Retrain tab's rows) as a PNG; None without any."""
    panels = [(name, run.curves.get(name) or []) for name in ("loss", "accuracy")]
    if not any(rows for _, rows in panels):
        return None
    figure = new_figure(10, 4)
    for axis, (name, rows) in zip(figure.subplots(1, 2), panels, strict=True):
        for series in sorted({row.get("series", "") for row in rows}):
            points = [row for row in rows if row.get("series", "") == series]
            axis.plot([p["epoch"] for p in points], [p["value"] for p in points], label=series)
        axis.set(xlabel="epoch", title=name.capitalize())
        axis.grid(alpha=0.3)
        if rows:
            axis.legend()
    figure.suptitle(f"Run {run.id}")
    return save_figure(figure, path, dpi=100)


def data_lines(settings: dict, kind: str) -> list[str]:
    images = min(settings.get("subset") or TRAIN_IMAGES, TRAIN_IMAGES)
    dataset = "Fashion-MNIST" if settings.get("dataset") == "fashion" else "MNIST"
    lines = [f"- Trained on the first {images:,} images of the {dataset} training set."]
    extras = [
        ("augment", "random rotation, scale, shift and stroke width"),
        ("outlier_exposure", "synthetic non-digits pushed to 'not a digit'"),
        ("coarse_scans", "digits scanned at 8-16 px"),
        ("drawn_strokes", "digits redrawn with a round brush, as the pad draws them"),
        ("number_pieces", "halves and pairs cut from composed numbers as non-digits"),
    ]
    lines += [f"- With {what}." for name, what in extras if settings.get(name)]
    if kind == "finetune":
        lines.append(
            "- Then fine-tuned in the app on the student's own drawings, which are not in this "
            "export (the class pool export holds the class's shared drawings)."
        )
    lines.append(f"- Scored on the {dataset} test set (10,000 images) and on the class pool's "
                 "held-out part (drawings the runs never train on).")  # fmt: skip
    return lines


def model_card(run: RunRecord, title: str, curves: Path | None) -> str:
    settings = {k: v for k, v in run.settings.items() if k in OPTIONS}
    who = run.nickname or "a student"
    rows = "\n".join(f"| `{name}` | `{value}` |" for name, value in settings.items())
    figure = f"\n![Loss and accuracy curves]({curves.name})\n" if curves else ""
    command = reproduce_command(settings, f"{run.id}.pth")
    if run.kind == "finetune":
        command += "  # the starting point; the fine-tune on the student's drawings is not replayed"
    return f"""# Class run {run.id}

A SmallCNN ({run.kind}) made in mnist-demo by {who} in the class "{title or "untitled"}",
{run.created:%Y-%m-%d %H:%M} UTC.

## Figures

| | |
|---|---|
| MNIST test accuracy | {percent(run.test_accuracy)} |
| class pool accuracy (held-out part) | {percent(run.pool_accuracy)} |
{figure}
## Settings

| option | value |
|---|---|
{rows}

## Data

{chr(10).join(data_lines(run.settings, run.kind))}

## Files

- `{run.id}.pth`: the state_dict (`torch.load(path, weights_only=True)`, then
  `SmallCNN().load_state_dict(...)`), with `{run.id}.json`, the sidecar `mnist-demo` reads.
- `{run.id}.safetensors`: the same tensors (`safetensors.torch.load_file`), this run's
  settings and scores in its metadata.

## Reproduce

```
{command}
```
The same seed on the same device gives the same numbers.
"""
