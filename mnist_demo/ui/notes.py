"""How the page words a problem: in text, never with an emoji.

An emoji carries no meaning the words lack, and shows as an empty box where no emoji font is
installed (a bare Linux browser, a kiosk): "**Problem:** the image is too large" reads the same
everywhere.
"""

from __future__ import annotations

PROBLEM = "**Problem:**"


def problem(message: object) -> str:
    """``message`` (a text or an exception) as the page shows something that went wrong."""
    return f"{PROBLEM} {message}"
