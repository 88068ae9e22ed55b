"""A class's endpoints and the Draw tab's "Right" / "That's wrong, it's a ..." buttons.

``create_class`` -> ``{"code", "teacher_key", "join_url", "board_url"}``,
``submit_drawing(code, image, label, nickname)`` -> ``{"saved": true, "id"}`` and
``class_board(code, teacher_key)`` -> ``{"drawings", "per_digit", "confusion", "accuracy",
"runs", ...}``. A refusal is one line; an unknown class and a wrong key get the same one.
Every class call is in its own concurrency group (``CLASS_GROUP``), so a flood of submissions
holds at most its share of the queue and never the page's predictions (guards/policy.py).
"""

from __future__ import annotations

import io
import secrets
from urllib.parse import quote

import gradio as gr
import numpy as np
from PIL import Image

from mnist_demo.classroom.scores import ranked
from mnist_demo.classroom.store import ClassError
from mnist_demo.config import MNIST
from mnist_demo.recognition.inference import shipped_predictor
from mnist_demo.recognition.ink import to_ink
from mnist_demo.recognition.preprocess import ink_box, preprocess_ink
from mnist_demo.serving.classes import (
    REFUSED,
    Membership,
    clean_nickname,
    shared_board,
)
from mnist_demo.serving.session import Session

THUMBNAIL_SIDE = 64
TITLE_CHARACTERS = 80


def refuse(message: str = REFUSED) -> gr.Error:
    return gr.Error(message, print_exception=False)


def base_url(request: gr.Request | None) -> str:
    """The page's address as the visitor reached it (behind a proxy: its Host and scheme)."""
    if request is None:
        return "/"
    headers = request.headers
    host = headers.get("x-forwarded-host") or headers.get("host") or "localhost"
    scheme = headers.get("x-forwarded-proto") or request.request.url.scheme
    return f"{scheme}://{host}{request.request.url.path.split('/gradio_api')[0].rstrip('/')}/"


def class_links(base: str, code: str, key: str) -> dict:
    """The join link, and the teacher's: its key after ``#``, which a browser never sends to a
    server, so that it stays out of access logs, proxies and Referer headers."""
    return {
        "join_url": f"{base}?class={quote(code)}",
        "board_url": f"{base}?class={quote(code)}#key={quote(key)}",
    }


def create_class(title: str, session: Session, request: gr.Request) -> dict:
    """A new class; the session that made it is its teacher from now on."""
    store = shared_board().store
    try:
        keys = store.create_class(clean_nickname(title)[:TITLE_CHARACTERS] if title else "")
    except ClassError as error:
        raise refuse(str(error)) from None
    base = base_url(request)
    session.classroom = Membership(keys.code, teacher=True, key=keys.teacher_key, base=base)
    return {
        "code": keys.code,
        "teacher_key": keys.teacher_key,
        **class_links(base, keys.code, keys.teacher_key),
    }


def thumbnail_png(ink: np.ndarray) -> bytes:
    """The ink as drawn, dark on white, cropped to the strokes and fitted in 64 pixels."""
    box = ink_box(ink)
    if box is not None:
        margin = max(box.height, box.width) // 8
        ink = ink[
            max(0, box.top - margin) : box.bottom + margin,
            max(0, box.left - margin) : box.right + margin,
        ]
    side = max(ink.shape)
    square = np.zeros((side, side), np.uint8)
    top, left = (side - ink.shape[0]) // 2, (side - ink.shape[1]) // 2
    square[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
    picture = Image.fromarray(255 - square, "L")
    picture.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def parse_label(label: object) -> int:
    """A digit 0-9 given as a number or as text; ValueError for anything else."""
    if isinstance(label, float) and label.is_integer():
        label = int(label)
    text = str(label).strip() if isinstance(label, int | str) else ""
    if len(text) != 1 or not text.isdigit() or not text.isascii():
        raise ValueError("the label must be a digit from 0 to 9")
    return int(text)


def save_drawing(membership: Membership, image, label: object, session: Session | None) -> int:
    """Store one drawing in the class pool: the model's 28x28 input, the ink's thumbnail, the
    label and the answer of the model the student used (a digits one; else the shipped one)."""
    digit = parse_label(label)
    ink = to_ink(image)  # ValueError, saying why, for anything that is no image.
    prepared = preprocess_ink(ink, MNIST)
    if prepared.blank:
        raise ValueError(f"nothing to save: {prepared.reason}")
    predictor = shipped_predictor(MNIST.name)
    if session is not None and session.predictor().spec.name == MNIST.name:
        predictor = session.predictor()
    prediction = predictor.predict_prepared(prepared)
    top = prediction.top
    return shared_board().store.submit_drawing(
        membership.code,
        pixels=prepared.picture.astype(np.float32) / 255,
        thumbnail_png=thumbnail_png(ink),
        label=digit,
        predicted=int(top) if top is not None else None,
        confidence=prediction.probabilities.get(top) if top is not None else None,
        nickname=membership.nickname,
        session=membership.session,
    )


def submit_drawing(code, image, label, nickname, session: Session, request: gr.Request) -> dict:
    """The API: one drawing (an image file, as ``predict_image`` takes) into a class's pool."""
    board = shared_board()
    code = str(code or "")[:64]
    if not code or not board.store.has_class(code):
        raise refuse()
    member = session.classroom
    if member is None or member.code != code:
        # A script's session (gradio_client) is its student from now on: its runs join too.
        tag = (request.session_hash if request is not None else None) or ""
        member = Membership(code, clean_nickname(nickname), visitor=tag or secrets.token_hex(16))
        if session.classroom is None:
            session.classroom = member
    elif nickname:
        member.nickname = clean_nickname(nickname)
    if image is None:
        raise refuse("Send an image of one digit.")
    try:
        drawing_id = save_drawing(member, image, label, session)
    except (ValueError, ClassError) as error:
        raise refuse(str(error).splitlines()[0][:200]) from None
    return {"saved": True, "id": drawing_id}


def run_row(run, code: str, base: str = "") -> dict:
    return {
        "id": run.id,
        "nickname": run.nickname,
        "kind": run.kind,
        "test_accuracy": run.test_accuracy,
        "pool_accuracy": run.pool_accuracy,
        "settings": run.settings,
        "created": run.created.isoformat(),
        "link": f"{base}?class={quote(code)}&model={quote(run.id)}",
    }


def teacher_board(code: object, key: object) -> str:
    """The code if ``key`` is its teacher key; otherwise the one refusal."""
    code, key = str(code or "")[:64], str(key or "")[:128]
    if not code or not key or not shared_board().store.check_teacher(code, key):
        raise refuse()
    return code


def class_board(code, teacher_key, request: gr.Request) -> dict:
    """The API: the board's figures for a teacher."""
    code = teacher_board(code, teacher_key)
    board = shared_board()
    figures = board.figures(code)
    runs = ranked(board.store.runs(code))
    answered = [row for row in board.rows(code) if row.answered is not None]
    return {
        **figures.to_dict(),
        "accuracy": {
            "shipped": figures.accuracy,
            "as_answered": (
                sum(row.answered == row.label for row in answered) / len(answered)
                if answered
                else None
            ),
        },
        "runs": [run_row(run, code, base_url(request)) for run in runs],
    }


def add_class_api(session: gr.State, class_group: str, board_group: str, concurrency: int) -> None:
    """The three endpoints, on hidden buttons nobody clicks (as ``predict`` is made)."""
    code, key, nickname, label = (gr.Textbox(visible=False) for _ in range(4))
    title = gr.Textbox("", visible=False)
    image = gr.Image(visible=False, type="pil", image_mode=None, sources=["upload"])
    result = gr.JSON(visible=False)
    settings = dict(show_progress="hidden", concurrency_limit=concurrency)
    gr.Button(visible=False).click(
        create_class,
        [title, session],
        result,
        api_name="create_class",
        concurrency_id=class_group,
        **settings,
    )
    gr.Button(visible=False).click(
        submit_drawing,
        [code, image, label, nickname, session],
        result,
        api_name="submit_drawing",
        concurrency_id=class_group,
        **settings,
    )
    gr.Button(visible=False).click(
        class_board,
        [code, key],
        result,
        api_name="class_board",
        concurrency_id=board_group,
        **settings,
    )
