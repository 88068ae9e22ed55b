"""Join codes, teacher keys and run ids: unguessable, and keys kept only as hashes.

A code or key is ``secrets.token_urlsafe`` (the ``secrets`` module is Python's choice for
tokens, PEP 506). The teacher key is stored as its SHA-256 and compared with
``hmac.compare_digest``, whose time does not depend on where two strings first differ.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

CODE_BYTES = 12  # 16 characters, 96 random bits.
KEY_BYTES = 24  # 32 characters, 192 random bits.
RUN_BYTES = 9  # 12 characters, 72 random bits.
# What a code, key or run id may look like: token_urlsafe's alphabet. Anything else is refused
# before it reaches the database.
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Compared against when a code is unknown, so that a refusal takes the same path either way.
UNKNOWN_HASH = hashlib.sha256(b"no such class").hexdigest()


def token(nbytes: int) -> str:
    """``secrets.token_urlsafe(nbytes)`` that does not start with "-": a command line would read
    ``mnist-demo class export -x...`` or ``--key -x...`` as a flag (1 token in 64 would)."""
    while (drawn := secrets.token_urlsafe(nbytes)).startswith("-"):
        pass
    return drawn


def new_code() -> str:
    return token(CODE_BYTES)


def new_teacher_key() -> str:
    return token(KEY_BYTES)


def new_run_id() -> str:
    return token(RUN_BYTES)


def well_formed(token: object) -> bool:
    """Whether ``token`` could be a code, key or run id (a string of token_urlsafe's alphabet)."""
    return isinstance(token, str) and TOKEN.fullmatch(token) is not None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_matches(key: object, stored_hash: str | None) -> bool:
    """Whether ``key`` hashes to ``stored_hash``, in constant time; False for a malformed key or
    an unknown class (None), after the same comparison."""
    given = hash_key(key) if isinstance(key, str) else UNKNOWN_HASH
    expected = stored_hash or UNKNOWN_HASH
    same = hmac.compare_digest(given, expected)
    return same and stored_hash is not None and well_formed(key)
