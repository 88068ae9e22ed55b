"""What the teacher's board shows, as values for its components: tables, thumbnails, the chart.

Thumbnails travel inline (``data:`` URIs in HTML), so a board refreshed every second writes no
files to Gradio's cache; the runs' curves are one matplotlib picture, since gradio 6.31's
LinePlot never widens its legend for a series that appears later (docs/gradio.md), and runs
join the board one by one.
"""

from __future__ import annotations

import base64
import html

import numpy as np
import pandas as pd

from mnist_demo.classroom.board import DIGITS, Figures, Row, student_name
from mnist_demo.pictures import figure_pixels, new_figure
from mnist_demo.ui.inline import image_html

CONFUSION_HEADER = ["drawn ↓ · read →", *(str(digit) for digit in range(DIGITS))]


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def cell(text: str) -> str:
    """A visitor's text (a nickname, a class's name) safe in a Markdown table: no HTML, no bar."""
    return html.escape(text, quote=False).replace("|", "/").replace("*", "·")


def summary_markdown(title: str, figures: Figures, accuracies: dict[str, float | None]) -> str:
    """Counts per digit and per student, and the accuracies, as two small tables."""
    digits = " | ".join(str(digit) for digit in range(DIGITS))
    counts = " | ".join(str(count) for count in figures.per_digit)
    students = "\n".join(
        f"| {cell(name)} | {count} |" for name, count in figures.per_student.items()
    )
    who = f" · {cell(figures.student)}" if figures.student else ""
    lines = [
        f"### {cell(title) or 'Your class'}{who}: {figures.total} drawing(s), "
        f"{figures.held_out} of them held out for scoring runs",
        f"| digit | {digits} |\n|---|{'---|' * DIGITS}\n| drawings | {counts} |",
        "",
        "| model | accuracy on these drawings |\n|---|---|",
        *(f"| {cell(name)} | {percent(value)} |" for name, value in accuracies.items()),
        "",
        "| student | drawings |\n|---|---|",
        students or "| (nobody yet) | 0 |",
    ]
    return "\n".join(lines)


def confusion_frame(figures: Figures) -> pd.DataFrame:
    """The 10x10 confusion matrix, one row per drawn digit, a first column naming it."""
    rows = [[str(label), *figures.confusion[label]] for label in range(DIGITS)]
    return pd.DataFrame(rows, columns=CONFUSION_HEADER)


def thumbnail_html(drawings: list, captions: list[str], empty: str) -> str:
    """Thumbnails (store Drawings' PNGs) with captions, as one block of inline images."""
    if not drawings:
        return f"<p>{html.escape(empty)}</p>"
    tiles = []
    for drawing, caption in zip(drawings, captions, strict=True):
        data = base64.b64encode(drawing.thumbnail_png).decode("ascii")
        tiles.append(
            '<figure class="class-drawing" style="display:inline-block;margin:4px;'
            'text-align:center;width:84px">'
            f'<img src="data:image/png;base64,{data}" width="64" height="64" '
            f'alt="drawing {drawing.id}" style="border:1px solid #ccc;background:#fff">'
            f'<figcaption style="font-size:11px">{html.escape(caption)}</figcaption></figure>'
        )
    return f'<div class="class-drawings">{"".join(tiles)}</div>'


def cell_caption(drawing, row: Row | None) -> str:
    who = drawing.nickname or "(no name)"
    if row is None:
        return f"{drawing.label} · {who}"
    return f"{row.label}→{row.predicted} {row.confidence:.0%} · {who}"


def mistake_captions(rows: list[Row]) -> list[str]:
    return [
        f"drawn {row.label}, read {row.predicted} ({row.confidence:.0%}) · {student_name(row)}"
        for row in rows
    ]


RUN_COLUMNS = ["rank", "student", "kind", "class held-out", "MNIST test", "settings", "link"]


def runs_frame(runs: list[dict]) -> pd.DataFrame:
    """The class's runs, ranked, with the link that opens each in the Draw tab."""
    rows = [
        [
            rank,
            run["nickname"] or "(no name)",
            run["kind"],
            percent(run["pool_accuracy"]),
            percent(run["test_accuracy"]),
            settings_words(run["settings"]),
            run["link"],
        ]
        for rank, run in enumerate(runs, 1)
    ]
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def settings_words(settings: dict) -> str:
    """The settings a class compares runs by, in a few words."""
    names = ("epochs", "optimizer", "learning_rate", "batch_size", "batch_norm", "augment")
    shown = [f"{name}={settings[name]}" for name in names if name in settings]
    if "fine_tuned_on_drawings" in settings:
        shown.append(f"fine-tuned on {settings['fine_tuned_on_drawings']} drawings")
    return ", ".join(shown)


def curves_html(runs: list) -> str | None:
    """Every run's test-accuracy curve on one chart (RunRecords, best first), as an image."""
    drawn = [(run, test_points(run.curves)) for run in runs]
    drawn = [(run, points) for run, points in drawn if points]
    if not drawn:
        return None
    figure = new_figure(7.5, 3.2)
    axes = figure.add_subplot()
    for run, points in drawn[:12]:
        epochs, values = zip(*points, strict=True)
        name = f"{run.nickname or '(no name)'} · {run.kind} · {run.id[:4]}"
        axes.plot(epochs, values, marker="." if len(points) < 3 else None, label=name)
    axes.set_xlabel("epoch")
    axes.set_ylabel("MNIST test accuracy")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="lower right")
    picture = figure_pixels(figure)
    return image_html(np.ascontiguousarray(picture), "The class's runs' test accuracy curves")


def test_points(curves: dict) -> list[tuple[float, float]]:
    """(epoch, test accuracy) of a run's stored curves (serving.retrain's Charts rows)."""
    rows = curves.get("accuracy") or []
    return [
        (float(row["epoch"]), float(row["value"]))
        for row in rows
        if isinstance(row, dict) and row.get("series") == "test"
    ]
