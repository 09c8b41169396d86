"""Token pairs and where they are kept: in memory, in a JSON file shared by processes, or in the app's own DB.

HH's refresh token works once, so whoever refreshes must persist the new pair before anyone uses it, and
two refreshers must never race; a new application token revokes the previous one, so two processes must not
both ask for one. A store therefore offers ``exclusive()``: the section inside it is the only one, across
tasks and (for the file store) across processes, that may refresh or request a token. Whoever enters it
re-reads the store first, and uses what another process saved there. A store whose lock may expire under
a live holder (Redis: ``redis_tokens``) is a ``ConditionalTokenStore`` too: the holder's save is a
compare-and-set, so a holder that outlived its lock cannot overwrite a newer pair.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import anyio
import anyio.to_thread
import attrs


@attrs.frozen(repr=False)
class TokenPair:
    """An access token with its refresh token. Neither appears in repr() or str()."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    """Unix time after which the access token is expired (None: unknown, learnt from HH's 403)."""
    token_type: str = "bearer"
    obtained_at: float | None = None
    """Unix time HH issued the token (None: unknown, as in files written before it was kept). For the
    application token it says when the next may be requested: 5 minutes later, by any process."""

    @classmethod
    def from_response(cls, body: dict[str, Any], now: float) -> TokenPair:
        """From HH's token answer: ``{access_token, token_type, expires_in, refresh_token}``."""
        expires_in = body.get("expires_in")
        return cls(
            access_token=str(body["access_token"]),
            refresh_token=body.get("refresh_token"),
            expires_at=now + float(expires_in) if expires_in is not None else None,
            token_type=str(body.get("token_type") or "bearer"),
            obtained_at=now,
        )

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> TokenPair:
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise ValueError("not a token pair: expected an object with a string 'access_token'")
        return cls(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token"),
            expires_at=float(data["expires_at"]) if data.get("expires_at") is not None else None,
            token_type=str(data.get("token_type") or "bearer"),
            obtained_at=float(data["obtained_at"]) if data.get("obtained_at") is not None else None,
        )

    def __repr__(self) -> str:
        expires = (
            "unknown"
            if self.expires_at is None
            else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.expires_at))
        )
        refresh = ", refresh_token=***" if self.refresh_token else ""
        return f"TokenPair(access_token=***{refresh}, expires_at={expires})"

    __str__ = __repr__


class TokenStore(Protocol):
    async def load(self) -> TokenPair | None: ...

    async def save(self, pair: TokenPair) -> None: ...

    def exclusive(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Held while refreshing; a store shared beyond this process makes it a cross-process lock."""
        ...


class TokenConflict(Exception):
    """A conditional save found another pair than the one it was to replace: someone saved a newer one
    (a holder that outlived its lock finds this out here, instead of undoing a later refresh)."""


@runtime_checkable
class ConditionalTokenStore(TokenStore, Protocol):
    """A store whose lock can expire under a live holder (a distributed lock with a timeout) also offers
    a compare-and-set save; the auths use it for every pair they obtain."""

    async def replace(self, old: TokenPair | None, new: TokenPair) -> None:
        """Save ``new`` if the store still holds ``old`` (the same access token; None: nothing stored),
        else raise ``TokenConflict`` and leave the store as it is."""
        ...


class MemoryTokenStore:
    def __init__(self, pair: TokenPair | None = None) -> None:
        self._pair = pair
        self._lock = anyio.Lock()  # several auths may share the store: one of them refreshes

    async def load(self) -> TokenPair | None:
        return self._pair

    async def save(self, pair: TokenPair) -> None:
        self._pair = pair

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._lock:
            yield

    def __repr__(self) -> str:
        return f"MemoryTokenStore({self._pair!r})"


class TokenFileError(ValueError):
    """The token file exists but cannot be read as a token pair; it is left untouched."""


class JsonFileTokenStore:
    """A JSON file (mode 0600, replaced atomically) that several processes may share.

    ``exclusive()`` takes an advisory lock on ``<file>.lock``, so across processes one refreshes and the
    others read the pair it saved.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")

    async def load(self) -> TokenPair | None:
        return await anyio.to_thread.run_sync(self._load)

    def _load(self) -> TokenPair | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return TokenPair.from_json(json.loads(text))
        except ValueError as exc:
            raise TokenFileError(f"{self.path}: cannot read tokens ({exc}); fix or delete the file") from None

    async def save(self, pair: TokenPair) -> None:
        await anyio.to_thread.run_sync(self._save, pair)

    def check_writable(self) -> None:
        """OSError if a save here would fail (a directory in the way, no permission): to ask before a
        login, after which a token that cannot be saved is lost. Tries what a save does first."""
        if self.path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(self.path))
        fd, probe = self._temporary()
        os.close(fd)
        os.unlink(probe)

    def _temporary(self) -> tuple[int, str]:
        """A new file beside the token file: a save is written there, then renamed over it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")

    def _save(self, pair: TokenPair) -> None:
        fd, tmp = self._temporary()
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(pair.to_json(), out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        import fcntl

        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            await anyio.to_thread.run_sync(fcntl.flock, fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __repr__(self) -> str:
        return f"JsonFileTokenStore({str(self.path)!r})"


class CallbackTokenStore:
    """Tokens kept by the application (its DB): ``load()`` and ``save(pair)`` are its coroutines.

    ``lock``, if given, is an async context manager factory the app uses to serialize refreshes across its
    processes (a DB row lock, say); without one, refreshes are serialized within this process only (among
    the auths sharing this store object).
    """

    def __init__(
        self,
        load: Callable[[], Awaitable[TokenPair | None]],
        save: Callable[[TokenPair], Awaitable[None]],
        lock: Callable[[], contextlib.AbstractAsyncContextManager[Any]] | None = None,
    ) -> None:
        self._load, self._save, self._lock = load, save, lock
        self._local = anyio.Lock()

    async def load(self) -> TokenPair | None:
        return await self._load()

    async def save(self, pair: TokenPair) -> None:
        await self._save(pair)

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        async with self._local:  # this process's auths queue here, not on the app's lock
            if self._lock is None:
                yield
            else:
                async with self._lock():
                    yield
