"""A class on the page: the Class tab (start a class, or the class you are in and your
nickname), the Draw tab's "Right" / "That's wrong, it's a ..." row, and the class link read
when the page opens (``?class=CODE``, the teacher's key after ``#key=``, ``&model=RUN``).
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from mnist_demo.classroom.scores import run_model
from mnist_demo.classroom.store import ClassError
from mnist_demo.config import MNIST
from mnist_demo.serving.classes import REFUSED, clean_nickname, join, shared_board
from mnist_demo.serving.session import Session
from mnist_demo.ui.canvas import drawing_from_ink
from mnist_demo.ui.classroom import base_url, create_class, save_drawing
from mnist_demo.ui.guards.policy import CLASS_GROUP
from mnist_demo.ui.notes import problem
from mnist_demo.ui.page_files import static_text

SHARED_NOTE = (
    "You are in the class **{title}**. When you press **Right** or **That's wrong** on the Draw "
    "tab, that drawing, the digit you chose, the model's answer and your nickname (if you give "
    "one) go to your teacher's board. Nothing else you do is shared; there are no accounts."
)
START_NOTE = (
    "Teaching a lesson? Start a class: your students open its join link, and every drawing they "
    "mark right or wrong, and every model they train, appears on your board."
)


@dataclass
class ClassTab:
    start: gr.Column
    member: gr.Column
    member_words: gr.Markdown
    links: gr.Markdown
    nickname: gr.Textbox
    title: gr.Textbox
    create: gr.Button


@dataclass
class ClassRow:
    row: gr.Column
    notice: gr.Markdown
    status: gr.Markdown
    right: gr.Button
    digits: list


def build_class_tab() -> ClassTab:
    with gr.Column(visible=True) as start:
        gr.Markdown(START_NOTE)
        title = gr.Textbox(label="Class name (optional)", max_length=80, elem_id="class-title")
        create = gr.Button("Start a class", variant="primary", elem_id="start-class")
    links = gr.Markdown(elem_id="class-links")
    with gr.Column(visible=False) as member:
        member_words = gr.Markdown(elem_id="class-member")
        nickname = gr.Textbox(
            label="Your nickname for the class (optional)", max_length=40, elem_id="nickname"
        )
    return ClassTab(start, member, member_words, links, nickname, title, create)


def build_class_row() -> ClassRow:
    """Under the pad, shown only in a class: one click stores the drawing in the class pool."""
    notice = gr.Markdown(visible=False, elem_id="class-notice")
    with gr.Column(visible=False, elem_id="class-row") as row:
        gr.Markdown("**For your class** (shared with your teacher):")
        with gr.Row(equal_height=True):
            right = gr.Button(
                "Right", size="sm", variant="primary", scale=0, min_width=120, elem_id="class-right"
            )
            gr.Markdown("That's wrong, it's a …", elem_id="class-wrong-words")
        with gr.Row(equal_height=True):
            digits = [
                gr.Button(str(n), size="sm", min_width=40, elem_id=f"class-wrong-{n}")
                for n in range(10)
            ]
        status = gr.Markdown(elem_id="class-status")
    return ClassRow(row, notice, status, right, digits)


def mark(label: int | None, ink: str | None, session: Session) -> tuple[str, Session]:
    """Store the pad's drawing in the class pool as ``label`` (None: the model's own answer)."""
    member = session.classroom
    if member is None:
        return problem("Open your class's link first."), session
    drawing = session.drawing
    if ink:
        try:
            drawing = drawing_from_ink(ink)
        except ValueError as error:
            return problem(error), session
    if drawing is None:
        return "Draw a digit first.", session
    session.keep_drawing(drawing)
    if session.predictor().spec.name != MNIST.name:
        return "Your class collects digits: switch the model to MNIST digits first.", session
    try:
        if label is None:
            top = session.predictor().predict_full(drawing).top
            if top is None:
                return "Draw a digit first.", session
            label = int(top)
        drawing_id = save_drawing(member, drawing, label, session)
    except (ValueError, ClassError) as error:
        return problem(str(error).splitlines()[0][:200]), session
    return f"Saved for your class as **{label}** (drawing {drawing_id}).", session


def links_markdown(created: dict) -> str:
    return (
        f"**Your class is ready.** Students open: {created['join_url']}\n\n"
        f"Your board (keep it to yourself: it shows everything and can delete the class): "
        f"{created['board_url']}\n\n"
        "The key after `#` never reaches a server's logs: browsers keep the part after `#` "
        "to themselves."
    )


def visible_parts(session: Session, words: str = "") -> tuple:
    """start, member, member words, the Draw tab's row, the board tab, the timer."""
    member = session.classroom
    inside = member is not None
    teacher = inside and member.teacher
    title = ""
    if inside:
        try:
            title = shared_board().store.title(member.code)
        except ClassError:
            title = ""
    return (
        gr.Column(visible=not inside),
        gr.Column(visible=inside and not teacher),
        words or (SHARED_NOTE.format(title=title or "without a name") if inside else ""),
        gr.Column(visible=inside),
        gr.Tab(visible=teacher),
        gr.Timer(active=teacher),
    )


def enter(session: Session, key: str, request: gr.Request):
    """Read the class link when the page opens: join, open the board, or load a class's run."""
    params = request.query_params if request is not None else {}
    code, model = params.get("class"), params.get("model")
    key = key or params.get("key") or ""
    notice, opened = gr.Markdown(visible=False), gr.skip()
    if code:
        try:
            session.classroom = join(code, key)
            session.classroom.base = base_url(request)
        except ClassError:
            notice = gr.Markdown(problem(REFUSED), visible=True)
    if model and session.classroom is not None:
        notice = gr.Markdown(load_run(session, str(model)), visible=True)
        opened = str(model)[:64] if session.trained is not None else gr.skip()
    selected = "board" if session.classroom is not None and session.classroom.teacher else None
    tabs = gr.Tabs(selected=selected) if selected else gr.update()
    return (*visible_parts(session), notice, tabs, opened, session)


def load_run(session: Session, run_id: str) -> str:
    """A run of the visitor's class, used by this session as its model; what happened."""
    store = shared_board().store
    record = store.run(run_id[:64])
    if record is None or record.code != session.classroom.code:
        return problem("That model link is not valid for this class.")
    model = run_model(store, record.id)
    metrics = {"test_accuracy": record.test_accuracy}
    settings = {**record.settings, "class_run": record.id}
    session.keep_trained(model, MNIST.name, metrics, settings, record.kind == "finetune")
    session.use_trained_model(True)
    owner = record.nickname or "a classmate"
    return f"Drawing with {owner}'s {record.kind} model (run {record.id}), for you only."


def start_class(title: str, session: Session, request: gr.Request):
    created = create_class(title, session, request)
    session.classroom.base = base_url(request)
    words = "You are this class's teacher: its board is the **Class board** tab."
    return (links_markdown(created), *visible_parts(session, words), session)


def set_nickname(nickname: str, session: Session) -> None:
    if session.classroom is not None:
        session.classroom.nickname = clean_nickname(nickname)


def wire_class(
    demo, tab: ClassTab, row: ClassRow, board, tabs, session: gr.State, ink, group=CLASS_GROUP
):
    """The class's events; returns the hidden Textbox that a class's run opened by its link
    (``?model=ID``) changes, for the caller to refresh what says which model answers."""
    parts = [tab.start, tab.member, tab.member_words, row.row, board.tab, board.timer]
    settings = dict(show_progress="hidden", concurrency_id=group, api_name=False)
    tab.create.click(start_class, [tab.title, session], [tab.links, *parts, session], **settings)
    tab.nickname.change(set_nickname, [tab.nickname, session], None, **settings)
    for button, label in ((row.right, None), *zip(row.digits, range(10), strict=True)):
        button.click(
            lambda text, state, label=label: mark(label, text, state),
            [ink, session],
            [row.status, session],
            js=static_text("class_ink.js"),
            **settings,
        )
    key, opened = gr.Textbox(visible=False), gr.Textbox(visible=False)
    # Not queued: most pages open without a class link, and then this only reads the URL. A run
    # opened by its link changes ``opened``, whose change the caller follows with the page.
    demo.load(
        enter,
        [session, key],
        [*parts, row.notice, tabs, opened, session],
        js=static_text("class_key.js"),
        show_progress="hidden",
        api_name=False,
        queue=False,
    )
    return opened
