"""``FileCacheStorage``: kept answers in a directory, across runs (a CLI, a cron job) and processes.

One file per entry, named by a hash of the cache key (no URL, no token in a name), holding
``CacheEntry.to_bytes`` (a JSON line and the body, never a pickle). A write goes to a temporary file
that replaces the entry in one ``os.replace``, so a reader, in this process or another, sees the old
entry or the new one, never half of one. A write cut short by an error is removed at once; one cut short
with its process (SIGKILL) leaves a temporary file, removed by a later write once it is an hour old.
File work runs in a worker thread (``anyio.to_thread``): asyncio and trio alike, and a caller cancelled
meanwhile waits for the thread, so no write is left half-done. Past ``max_entries`` files, the least
recently written go.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from pathlib import Path

import anyio.to_thread

from .entry import CacheEntry

_SUFFIX = ".hh-cache"
_TEMPORARY = (".hh-cache-", ".tmp")  # prefix, suffix
ABANDONED = 3600.0
"""Seconds after which a temporary file no write is using any more (its process was killed) is removed."""


class FileCacheStorage:
    def __init__(self, directory: str | os.PathLike[str], *, max_entries: int = 1000) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be positive, got {max_entries!r}")
        self.directory = Path(directory)
        self.max_entries = max_entries

    def _path(self, key: str) -> Path:
        return self.directory / (hashlib.sha256(key.encode()).hexdigest() + _SUFFIX)

    async def get(self, key: str) -> CacheEntry | None:
        return await anyio.to_thread.run_sync(self._read, self._path(key))

    async def set(self, key: str, entry: CacheEntry) -> None:
        await anyio.to_thread.run_sync(self._write, self._path(key), entry.to_bytes())

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(self._path(key).unlink, True)

    @staticmethod
    def _read(path: Path) -> CacheEntry | None:
        try:
            return CacheEntry.from_bytes(path.read_bytes())
        except FileNotFoundError:
            return None
        except ValueError:
            return None  # not ours (or an older format): as good as absent

    def _write(self, path: Path, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=_TEMPORARY[0], suffix=_TEMPORARY[1])
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self._trim()

    def _trim(self) -> None:
        abandoned = time.time() - ABANDONED
        for path in self.directory.glob("*".join(_TEMPORARY)):
            with contextlib.suppress(OSError):  # gone already, or not ours to remove
                if path.stat().st_mtime < abandoned:
                    path.unlink()
        entries = list(self.directory.glob("*" + _SUFFIX))
        if len(entries) <= self.max_entries:
            return

        def written(path: Path) -> float:
            try:
                return path.stat().st_mtime
            except FileNotFoundError:  # another process trimmed it meanwhile
                return float("inf")

        for path in sorted(entries, key=written)[: len(entries) - self.max_entries]:
            path.unlink(missing_ok=True)

    def __repr__(self) -> str:
        return f"FileCacheStorage({str(self.directory)!r})"


__all__ = ["FileCacheStorage"]
