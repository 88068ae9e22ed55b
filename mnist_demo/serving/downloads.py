"""Where retrained models are written for download: one folder per process, a capped number of
runs in it (the oldest removed first), all of it removed at shutdown or exit."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from collections import deque
from pathlib import Path


class DownloadStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._root: Path | None = None
        self._folders: deque[Path] = deque()
        self._registered = False

    @property
    def root(self) -> Path | None:
        return self._root

    def new_folder(self, capacity: int) -> Path:
        """A fresh folder for one run's files; past ``capacity`` the oldest folders go."""
        with self._lock:
            if self._root is None or not self._root.is_dir():
                self._root = Path(tempfile.mkdtemp(prefix="mnist-demo-"))
                if not self._registered:
                    atexit.register(self.clear)
                    self._registered = True
            folder = Path(tempfile.mkdtemp(prefix="run-", dir=self._root))
            self._folders.append(folder)
            while len(self._folders) > capacity:
                shutil.rmtree(self._folders.popleft(), ignore_errors=True)
            return folder

    def remove(self, folder: str | Path) -> None:
        with self._lock:
            path = Path(folder)
            if path in self._folders:
                self._folders.remove(path)
            shutil.rmtree(path, ignore_errors=True)

    def clear(self) -> None:
        with self._lock:
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
            self._folders.clear()


DOWNLOADS = DownloadStore()
