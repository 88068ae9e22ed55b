"""A visitor's class, without Gradio: who they are in it, and their finished runs joining its
board. The class's data lives in the database (mnist_demo.classroom.store); a session holds only
its class's code, the nickname and whether it came with the teacher's key."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from mnist_demo.classroom.board import Board
from mnist_demo.classroom.store import ClassError, ClassStore
from mnist_demo.config import MNIST
from mnist_demo.recognition.preprocess import to_picture
from mnist_demo.training.finetune import PersonalExample

logger = logging.getLogger(__name__)
# One message for an unknown class, a deleted one and a wrong key: a refusal says nothing more.
REFUSED = "This class link is not valid."
NICKNAME_CHARACTERS = 40


@dataclass
class Membership:
    """A session's place in a class. ``visitor`` is random per browser tab: the store gets only
    its hash, which ties a student's drawings and runs together without naming anybody."""

    code: str
    nickname: str = ""
    teacher: bool = False
    visitor: str = field(default_factory=lambda: secrets.token_hex(16))
    key: str = field(default="", repr=False)  # The teacher's key (kept to delete the class).
    base: str = ""  # The page's address, for the links the board shows.
    board_stamp: Any = field(default=None, repr=False)  # What the board showed last.
    chosen_run: str = ""  # The run the teacher's board scores beside the shipped model.

    @property
    def session(self) -> str:
        return session_tag(self.visitor)


def session_tag(secret: str) -> str:
    """The opaque id stored with a drawing or run: a hash, so the store holds no session key."""
    return hashlib.sha256(secret.encode()).hexdigest()[:32]


def clean_nickname(nickname: object) -> str:
    """One line of at most NICKNAME_CHARACTERS, control characters removed."""
    text = "" if nickname is None else str(nickname)[: NICKNAME_CHARACTERS * 4]
    text = "".join(character for character in text if character.isprintable())
    return " ".join(text.split())[:NICKNAME_CHARACTERS]


_board: Board | None = None
_board_lock = threading.Lock()


def shared_board() -> Board:
    """The process's board over the process's store (both made on first use)."""
    global _board
    store = ClassStore.shared()  # The settings' database (tests point it at their own).
    board = _board
    if board is None or board.store is not store:
        with _board_lock:
            if _board is None or _board.store is not store:
                _board = Board(store)
            board = _board
    return board


def join(code: str, key: str = "", nickname: str = "") -> Membership:
    """The membership for a class link; ClassError (REFUSED) for an unknown class or a key that
    is given but wrong."""
    store = shared_board().store
    code = str(code or "").strip()
    if not code or len(code) > 64 or not store.has_class(code):
        raise ClassError(REFUSED)
    teacher = bool(key) and store.check_teacher(code, str(key)[:128])
    if key and not teacher:
        raise ClassError(REFUSED)
    return Membership(code, clean_nickname(nickname), teacher, key=str(key) if teacher else "")


def record_run(
    membership: Membership | None,
    kind: str,
    model,
    dataset: str,
    train_config: dict,
    metrics: dict,
    curves: dict,
) -> str:
    """A finished run of a class member joins the class's board, scored on its held-out part;
    the sentence that says so ("" outside a class). A digits model only: the pool is digits."""
    if membership is None:
        return ""
    if dataset != MNIST.name:
        return " Only digit models join your class's board: this one stays yours."
    board = shared_board()
    # What rebuilds the network from its weights (a fine-tune's own settings do not say it).
    shape = {"dataset": dataset, "batch_norm": bool(getattr(model.config, "batch_norm", False))}
    try:
        record = board.store.add_run(
            membership.code,
            nickname=membership.nickname,
            session=membership.session,
            kind=kind,
            settings=json.loads(
                json.dumps({**shape, **train_config, "metrics": metrics}, default=str)
            ),
            curves=curves,
            test_accuracy=metrics.get("test_accuracy"),
            state_dict={name: value.detach().cpu() for name, value in model.state_dict().items()},
        )
        score = board.score_run(record.id)
    except ClassError as error:
        return f" It did not join your class's board: {error}"
    except Exception as error:  # noqa: BLE001 (the visitor keeps the model whatever happens)
        logger.error("a run could not join its class: %s", str(error).splitlines()[0][:200])
        return " It could not join your class's board (the class store failed)."
    pool = "" if score is None else f", {score:.0%} on the class's held-out drawings"
    link = f"; anyone in the class draws with it at {run_link(membership, record.id)}"
    return (
        f" It joined your class's board (run {record.id}{pool}{link if membership.base else ''})."
    )


def run_link(membership: Membership, run_id: str) -> str:
    """The link that opens a class's run in the Draw tab, for the class's members only."""
    return f"{membership.base}?class={quote(membership.code)}&model={quote(run_id)}"


def class_examples(membership: Membership | None) -> list[PersonalExample] | None:
    """This visitor's drawings in their class's pool, as "teach your handwriting" examples;
    never the held-out part, which the class's runs are scored on. None outside a class."""
    if membership is None:
        return None
    try:
        drawings = shared_board().training_part(membership.code, membership.session)
    except ClassError:
        return None
    return [PersonalExample(to_picture(drawing.pixels), drawing.label) for drawing in drawings]
