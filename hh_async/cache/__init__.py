"""HTTP caching of what HH serves with an ``ETag`` or ``max-age`` (dictionaries, areas, roles...).

``CacheTransport`` wraps the transport stack (above retries and the throttle); ``MemoryCacheStorage`` is
the default store, ``FileCacheStorage`` one that outlives the process (a CLI run, a cron job), and
``RedisCacheStorage`` (``hh_async.cache.redis``, needs redis-py) one that several processes and hosts
share. ``with_cache`` builds what ``HHClient(cache=...)`` asks for.
"""

from __future__ import annotations

from .entry import CacheEntry
from .files import FileCacheStorage
from .storage import CacheStorage, MemoryCacheStorage
from .transport import CacheTransport, cache_key, with_cache

__all__ = [
    "CacheEntry",
    "CacheStorage",
    "CacheTransport",
    "FileCacheStorage",
    "MemoryCacheStorage",
    "cache_key",
    "with_cache",
]
