"""What the commands write: models as JSON, and the JSONL file of ``search`` with the state beside it that
``--resume`` continues from. Lines are whole or dropped, and the state never counts a line not on disk."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO, Any

from ..search_all import seen_key
from .parser import UsageError


def plain(value: Any) -> Any:
    """A model (or list of them) as JSON data."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else value


_CUT = object()  # a line that is not a whole vacancy


class Output:
    """The JSONL file (or stdout) and the state beside it: ``<file>.state.json``.

    Lines are whole or dropped: on ``--resume`` a line cut short by a crash is removed, and the ids already
    written are skipped if HH sends them again."""

    def __init__(self, path: Path | None, *, resume: bool) -> None:
        self.path = path
        self.resume = resume
        self.state_path = path.with_name(path.name + ".state.json") if path else None
        self.seen: set[int | str] = set()
        self.written = 0
        self._whole = 0  # bytes of whole lines in the file, on --resume
        self._stream: IO[str] | None = None
        if path is None:
            if resume:
                raise UsageError("--resume needs the --jsonl file of the interrupted run")
            return
        if path.exists() and path.stat().st_size and not resume:
            raise UsageError(f"{path} exists: add --resume to continue it, or choose another file")
        if resume and not (self.state_path and self.state_path.exists()):
            raise UsageError(f"nothing to resume: {self.state_path} is missing")

    def load_state(self) -> dict[str, Any] | None:
        """The saved state, and the ids already written (``seen``, ``written``); changes nothing yet."""
        if not self.resume or self.state_path is None:
            return None
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {self.state_path}: {exc}") from None
        if not isinstance(state, dict):
            raise UsageError(f"{self.state_path} is not a state file")
        if self.path is not None and self.path.exists():
            self._read_written()
        return state

    def __enter__(self) -> Output:
        if self.path is None:
            self._stream = sys.stdout
            return self
        if self.resume and self.path.exists():
            with self.path.open("r+b") as file:
                file.truncate(self._whole)  # drop a line cut short by a crash
        self._stream = self.path.open("a", encoding="utf-8")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stream is not None and self._stream is not sys.stdout:
            self._stream.close()

    def _read_written(self) -> None:
        """The ids of the whole lines; the last line, if cut short by a crash, is dropped on resuming. A
        line that is not a vacancy with more after it is no crash's doing: refused, the file untouched
        (dropping it and what follows would lose vacancies the saved state is past)."""
        assert self.path is not None
        with self.path.open("rb") as lines:
            for number, line in enumerate(lines, 1):
                try:
                    ident = json.loads(line)["id"] if line.endswith(b"\n") else _CUT
                except (ValueError, KeyError, TypeError, RecursionError):
                    ident = _CUT
                if ident is _CUT:
                    if next(lines, None) is not None:
                        raise UsageError(
                            f"{self.path}, line {number}: not a vacancy as this command writes them; "
                            f"fix or remove that line, then --resume again (nothing was changed)"
                        )
                    break
                self.seen.add(seen_key(ident))
                self._whole += len(line)
        self.written = len(self.seen)

    def write(self, vacancy: Any) -> bool:
        """Write one vacancy; False if its id was written before."""
        assert self._stream is not None
        key = seen_key(getattr(vacancy, "id", ""))
        if key in self.seen and self.path is not None:
            return False
        if self.path is not None:
            self.seen.add(key)
        self._stream.write(json.dumps(plain(vacancy), ensure_ascii=False) + "\n")
        self.written += 1
        return True

    def save_state(self, state: dict[str, Any]) -> None:
        if self.state_path is None or self._stream is None:
            return
        self._stream.flush()
        os.fsync(self._stream.fileno())  # the lines are on disk before the state that counts them
        # A new file replaces the old one whole: a Ctrl-C (or a crash) mid-write leaves the old state intact.
        temporary = self.state_path.with_name(self.state_path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as file:
            file.write(json.dumps(state, ensure_ascii=False))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.state_path)
