"""How the app is launched for a public demo: the request guard in front of Gradio's routes,
the lifespan that guards sessions, and how many calls Gradio runs at once."""

from __future__ import annotations

from starlette.middleware import Middleware

from mnist_demo import settings
from mnist_demo.ui.guards.http import RequestGuard, UploadLedger
from mnist_demo.ui.guards.limits import Limits
from mnist_demo.ui.guards.policy import security_headers
from mnist_demo.ui.guards.sessions import lifespan
from mnist_demo.ui.page_files import static_text

# Gradio runs at most launch(max_threads=...) queued calls at once, 40 by default, and a call
# waiting in the trainer's line is running for Gradio: the line, the page's own group and a
# class's two groups get their places on top of those 40, so a full line or a class's burst
# never stops a prediction (docs/gradio.md).
GRADIO_WORKERS = 40
# A class's submissions at once: each is a few milliseconds of database work and one small
# prediction, and thirty students press at the same moment. Gradio frees a call's place only
# after it has sent the answer, so a student's next drawing can arrive while the last one still
# holds its place: with 4 at once a burst of thirty had a third of its drawings refused, with 16
# a few in 600 on PostgreSQL (mnist-demo bench class); 32 seats the whole class.
CLASS_CONCURRENCY = 32
BOARD_CONCURRENCY = 4  # Teachers' boards refreshing at once.


def launch_options() -> dict:
    """Settings for a public demo; ``GRADIO_SERVER_NAME``/``PORT`` still override the host.

    ``app_kwargs`` puts the request guard (body sizes, the upload ledger, each group's share of
    the queue, one-line errors, the security headers) in front of Gradio's routes, and the
    lifespan guards sessions and cleans up at shutdown.
    """
    limits = Limits.from_env()
    ledger = UploadLedger(limits)
    guard = Middleware(RequestGuard, limits=limits, ledger=ledger, headers=security_headers())
    train_group = settings.TRAIN_LINE.read() + 1
    return {
        "app_kwargs": {"middleware": [guard], "lifespan": lifespan(ledger)},
        "server_name": settings.SERVER_NAME.read(),
        "server_port": settings.SERVER_PORT.read(),
        "max_threads": GRADIO_WORKERS
        + train_group
        + settings.PREDICT_CONCURRENCY.read()
        + CLASS_CONCURRENCY
        + BOARD_CONCURRENCY,
        "max_file_size": "5mb",
        "enable_monitoring": False,
        "show_error": True,
        "css": static_text("app.css"),
        # Each browser tab holds a session; keep at most this many in memory.
        "state_session_capacity": settings.MAX_SESSIONS.read(),
    }
