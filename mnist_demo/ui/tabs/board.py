"""The teacher's board: a tab shown only to a page opened with the class's teacher link.

It refreshes on a gr.Timer every second, and sends nothing when nothing changed (the pool's
size, the runs, the student filter): mnist_demo.classroom.board scores only new drawings. A cell
of the confusion matrix, clicked, shows its drawings; the runs are ranked and overlaid.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from mnist_demo.classroom.board import figures_of
from mnist_demo.classroom.export import pool_zip, run_files
from mnist_demo.classroom.scores import ranked
from mnist_demo.classroom.store import ClassError
from mnist_demo.serving.classes import REFUSED, shared_board
from mnist_demo.serving.downloads import DOWNLOADS
from mnist_demo.serving.session import Session
from mnist_demo.ui import board_views as views
from mnist_demo.ui.classroom import run_row

REFRESH_SECONDS = 1.0
EVERYONE = "everyone"
# Export folders kept at once (each a pool zip or one run's three files), across all teachers.
EXPORT_FOLDERS = 8


@dataclass
class BoardTab:
    tab: gr.Tab
    timer: gr.Timer
    outputs: list  # What refresh() returns.
    student: gr.Dropdown


def teacher_of(session: Session):
    member = session.classroom
    if member is None or not member.teacher:
        raise gr.Error(REFUSED, print_exception=False)
    return member


def refresh(student: str | None, session: Session, force: bool = False) -> tuple:
    """The whole board, or gr.skip() for each part when nothing changed since the last one; and
    the session, whose idle clock each tick restarts (a teacher watching is not idle)."""
    member = session.classroom
    if member is None or not member.teacher:
        return (*(gr.skip(),) * 7, session)
    board = shared_board()
    try:
        rows = board.rows(member.code)
        runs = ranked(board.store.runs(member.code))
        title = board.store.title(member.code)
    except ClassError:
        session.classroom = None
        gone = "This class no longer exists."
        empty = views.confusion_frame(figures_of([]))
        return gone, empty, "", "", views.runs_frame([]), gr.skip(), gr.Timer(active=False), session
    who = None if student in (None, "", EVERYONE) else student
    chosen = next((run for run in runs if run.id == member.chosen_run), None)
    stamp = (len(rows), tuple((run.id, run.pool_accuracy) for run in runs), who, member.chosen_run)
    if stamp == member.board_stamp and not force:
        return (*(gr.skip(),) * 7, session)
    member.board_stamp = stamp
    figures = board.figures(member.code, who)
    accuracies = {"the shipped model": figures.accuracy}
    answered = [row for row in rows if row.answered is not None]
    if who is not None:
        answered = [row for row in answered if views.student_name(row) == who]
    if answered:
        right = sum(row.answered == row.label for row in answered)
        accuracies["the models the students used"] = right / len(answered)
    if chosen is not None and who is None:
        name = f"{chosen.nickname or '(no name)'}'s {chosen.kind} run {chosen.id}"
        accuracies[name] = board.run_accuracy(member.code, chosen.id)
    mistakes = [board.store.drawing(member.code, row.id) for row in figures.mistakes]
    keep = [(d, row) for d, row in zip(mistakes, figures.mistakes, strict=True) if d is not None]
    students = [EVERYONE, *board.students(member.code)]
    return (
        views.summary_markdown(title, figures, accuracies),
        views.confusion_frame(figures),
        views.thumbnail_html(
            [d for d, _ in keep],
            views.mistake_captions([row for _, row in keep]),
            "No mistakes of the shipped model yet.",
        ),
        views.curves_html(runs),
        views.runs_frame([run_row(run, member.code, member.base) for run in runs]),
        gr.Dropdown(choices=students, value=who or EVERYONE),
        gr.skip(),
        session,
    )


def open_cell(student: str | None, session: Session, event: gr.SelectData) -> str:
    """The drawings in the clicked cell of the confusion matrix."""
    member = teacher_of(session)
    row, column = (event.index or [None, None])[:2]
    if not isinstance(row, int) or not isinstance(column, int) or column < 1:
        return "<p>Click a number in the matrix to see its drawings.</p>"
    label, answer = row, column - 1
    board = shared_board()
    who = None if student in (None, "", EVERYONE) else student
    figures = board.figures(member.code, who)
    ids = figures.cells.get((label, answer), [])[-60:]
    rows = {r.id: r for r in board.rows(member.code)}
    drawings = [d for d in (board.store.drawing(member.code, i) for i in ids) if d is not None]
    heading = f"<p>Drawn {label}, read {answer} by the shipped model: {len(ids)} drawing(s).</p>"
    captions = [views.cell_caption(d, rows.get(d.id)) for d in drawings]
    return heading + views.thumbnail_html(drawings, captions, "No drawings in this cell.")


def export_pool(session: Session) -> str:
    member = teacher_of(session)
    folder = DOWNLOADS.new_folder(EXPORT_FOLDERS)
    path = folder / f"class-{member.code[:6]}-pool.zip"
    path.write_bytes(pool_zip(shared_board().store, member.code))
    return str(path)


def export_run(run_id: str | None, session: Session) -> list[str]:
    member = teacher_of(session)
    store = shared_board().store
    record = store.run(str(run_id or ""))
    if record is None or record.code != member.code:
        raise gr.Error("Pick one of this class's runs first.", print_exception=False)
    return [str(path) for path in run_files(store, record.id, DOWNLOADS.new_folder(EXPORT_FOLDERS))]


def choose_run(run_id: str | None, student: str | None, session: Session) -> tuple:
    """The run picked below the board is scored on the class's drawings, in the table above."""
    teacher_of(session).chosen_run = str(run_id or "")
    return refresh(student, session, force=True)


def run_choices(session: Session):
    member = session.classroom
    if member is None or not member.teacher:
        return gr.skip()
    try:
        runs = ranked(shared_board().store.runs(member.code))
    except ClassError:
        return gr.skip()
    names = [(f"{r.nickname or '(no name)'} · {r.kind} · {r.id}", r.id) for r in runs]
    return gr.Dropdown(choices=names)


def delete_class(session: Session):
    member = teacher_of(session)
    board = shared_board()
    try:
        board.store.delete_class(member.code, member.key)
    except ClassError:
        raise gr.Error(REFUSED, print_exception=False) from None
    board.forget(member.code)
    session.classroom = None
    gone = "The class, its drawings and its runs are deleted."
    empty = views.confusion_frame(figures_of([]))
    return gone, empty, "", "", views.runs_frame([]), gr.Timer(active=False), gr.Row(visible=False)


def build_board_tab(session: gr.State, group: str) -> BoardTab:
    """The tab (hidden until a teacher link opens the page) and its events."""
    with gr.Tab("Class board", id="board", visible=False, elem_id="board-tab") as tab:
        timer = gr.Timer(REFRESH_SECONDS, active=False)
        student = gr.Dropdown([EVERYONE], value=EVERYONE, label="Show", elem_id="board-student")
        summary = gr.Markdown(elem_id="board-summary")
        gr.Markdown("**Confusion matrix** (the shipped model): click a number to see the drawings.")
        confusion = gr.Dataframe(
            views.confusion_frame(figures_of([])),
            interactive=False,
            elem_id="board-confusion",
            wrap=False,
        )
        cell = gr.HTML(elem_id="board-cell")
        gr.Markdown("**The shipped model's most confident mistakes**")
        mistakes = gr.HTML(elem_id="board-mistakes")
        gr.Markdown("**The class's runs**, best first on the class's held-out drawings")
        curves = gr.HTML(elem_id="board-curves")
        runs = gr.Dataframe(
            views.runs_frame([]), interactive=False, elem_id="board-runs", wrap=True
        )
        with gr.Row(equal_height=True):
            run_pick = gr.Dropdown(
                [],
                label="Score a run on all the class's drawings (shown above), or download it",
                elem_id="board-run-pick",
            )
            run_button = gr.Button("Download this run (.pth, .safetensors, .md)")
        files = gr.File(label="Files", file_count="multiple", interactive=False, height=120)
        with gr.Accordion("Export and delete", open=False):
            pool_button = gr.Button("Download the class's drawings (zip)")
            delete = gr.Button("Delete this class…", variant="stop", elem_id="board-delete")
            with gr.Row(visible=False) as confirm_row:
                gr.Markdown("Delete the class, every drawing and every run in it? This cannot "
                            "be undone.")  # fmt: skip
                really = gr.Button("Yes, delete it all", variant="stop", elem_id="board-really")
                cancel = gr.Button("Cancel")
    outputs = [summary, confusion, mistakes, curves, runs, student, timer, session]
    settings = dict(show_progress="hidden", concurrency_id=group, api_name=False)
    timer.tick(refresh, [student, session], outputs, **settings)
    student.input(
        lambda who, state: refresh(who, state, force=True), [student, session], outputs, **settings
    )
    confusion.select(open_cell, [student, session], cell, **settings)
    pool_button.click(export_pool, session, files, **settings)
    run_pick.focus(run_choices, session, run_pick, **settings)
    run_pick.input(choose_run, [run_pick, student, session], outputs, **settings)
    run_button.click(export_run, [run_pick, session], files, **settings)
    delete.click(lambda: gr.Row(visible=True), None, confirm_row, queue=False, api_name=False)
    cancel.click(lambda: gr.Row(visible=False), None, confirm_row, queue=False, api_name=False)
    really.click(
        delete_class,
        session,
        [summary, confusion, mistakes, curves, runs, timer, confirm_row],
        **settings,
    )
    return BoardTab(tab, timer, outputs, student)
