"""What a public copy promises every visitor, as numbers and headers the guards apply: each
concurrency group's share of the queue's waiting places, and the headers every answer carries.
"""

from __future__ import annotations

from mnist_demo import settings

# The concurrency group of the page's own calls: predictions after each stroke, the teaching
# panels that follow them, the model the page runs (ui/tabs/draw.py, ui/tabs/inside.py, ui/app.py).
PAGE_GROUP = "predict"
# A class's calls (ui/classroom.py): submissions and new classes in one group, the teachers'
# boards (refreshed every second) in another, so neither can crowd out the page or each other.
CLASS_GROUP = "class"
BOARD_GROUP = "class_board"


def shares(max_size: int) -> tuple[int, int, int]:
    """(the page's group, any other group, all other groups together): waiting places each may
    hold of the queue's ``max_size``. The page's group always has half to itself; a slow group
    can take a quarter at most, so one flood leaves room for every other group too."""
    page = max(1, max_size // 2)
    return page, max(1, max_size // 4), max(1, max_size - page)


def security_headers() -> list[tuple[bytes, bytes]]:
    """Sent with every answer. ``frame-ancestors`` keeps other sites from framing the page (a
    Hugging Face Space is framed by huggingface.co, allowed by default); a full
    Content-Security-Policy would break Gradio's inline scripts and styles."""
    ancestors = settings.FRAME_ANCESTORS.read()
    return [
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", f"frame-ancestors {ancestors}".encode()),
        (b"referrer-policy", b"strict-origin-when-cross-origin"),
    ]
