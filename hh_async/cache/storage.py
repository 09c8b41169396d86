"""Where kept answers live: the ``CacheStorage`` protocol and the default, ``MemoryCacheStorage``.

A storage maps a key (already free of secrets: see ``transport.cache_key``) to a whole ``CacheEntry``.
``set`` replaces an entry in one step, so readers see the old entry or the new one, never a mix. A
storage may forget anything at any time (a cache, not a database). A storage that cannot reach its store
raises ``OSError`` (``ConnectionError``, ``TimeoutError``): the transport then treats it as empty, so a
broken cache slows calls down but never fails them; any other error is a bug or a misconfiguration and
propagates.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol, runtime_checkable

from .entry import CacheEntry


@runtime_checkable
class CacheStorage(Protocol):
    async def get(self, key: str) -> CacheEntry | None: ...

    async def set(self, key: str, entry: CacheEntry) -> None: ...

    async def delete(self, key: str) -> None: ...


class MemoryCacheStorage:
    """Entries in this process, least recently used dropped first once their bodies pass ``max_bytes``.
    Share one between clients to share what they kept (keys differ per token: see ``cache_key``)."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be positive, got {max_bytes!r}")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, CacheEntry] = OrderedDict()
        self._bytes = 0

    async def get(self, key: str) -> CacheEntry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    async def set(self, key: str, entry: CacheEntry) -> None:
        await self.delete(key)
        if len(entry.content) > self.max_bytes:
            return  # bigger than the whole cache: keeping it would evict everything else
        self._entries[key] = entry
        self._bytes += len(entry.content)
        while self._bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= len(dropped.content)

    async def delete(self, key: str) -> None:
        dropped = self._entries.pop(key, None)
        if dropped is not None:
            self._bytes -= len(dropped.content)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """Bytes of body held."""
        return self._bytes

    def __repr__(self) -> str:  # keys carry no token, but a repr has no use for them anyway
        return f"MemoryCacheStorage({len(self._entries)} entries, {self._bytes} of {self.max_bytes} bytes)"


__all__ = ["CacheStorage", "MemoryCacheStorage"]
