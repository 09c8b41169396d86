"""hh-async: an asyncio client for the HeadHunter (hh.ru) API.

Importing the package is cheap: the generated client (``hh_async._raw``) and its hundreds of models load
only when first used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from . import models as models
    from .auth import (
        AppToken as AppToken,
        StaticToken as StaticToken,
        UserToken as UserToken,
        authorization_request as authorization_request,
        exchange_code as exchange_code,
    )
    from .client import HHClient as HHClient
    from .drift import DriftMonitor as DriftMonitor
    from .errors import HHError as HHError, ReauthorizationRequired as ReauthorizationRequired
    from .operations import Operation as Operation
    from .pagination import Cursor as Cursor, Paginator as Paginator
    from .redis_support import RedisUnavailableError as RedisUnavailableError
    from .redis_throttle import RedisThrottle as RedisThrottle
    from .redis_tokens import RedisTokenStore as RedisTokenStore
    from .retry import RetryPolicy as RetryPolicy
    from .search_all import Progress as Progress, VacancySweep as VacancySweep
    from .throttle import Throttle as Throttle, ThrottleBackend as ThrottleBackend
    from .tokens import (
        CallbackTokenStore as CallbackTokenStore,
        JsonFileTokenStore as JsonFileTokenStore,
        MemoryTokenStore as MemoryTokenStore,
        TokenConflict as TokenConflict,
        TokenPair as TokenPair,
    )
    from .user_auths import UserAuths as UserAuths

    OPERATIONS: Mapping[str, Operation]

__version__ = "0.1.0"

# The public names (with OPERATIONS), each loaded from its module on first use. The imports under
# TYPE_CHECKING above repeat them for type checkers, which cannot follow __getattr__ (``X as X``: a
# re-export, for users of mypy --strict).
_EXPORTS = {
    "HHClient": "client",
    "StaticToken": "auth",
    "AppToken": "auth",
    "UserToken": "auth",
    "authorization_request": "auth",
    "exchange_code": "auth",
    "TokenPair": "tokens",
    "MemoryTokenStore": "tokens",
    "JsonFileTokenStore": "tokens",
    "CallbackTokenStore": "tokens",
    "TokenConflict": "tokens",
    "UserAuths": "user_auths",
    "RedisTokenStore": "redis_tokens",
    "RedisThrottle": "redis_throttle",
    "RedisUnavailableError": "redis_support",
    "HHError": "errors",
    "ReauthorizationRequired": "errors",
    "RetryPolicy": "retry",
    "Throttle": "throttle",
    "ThrottleBackend": "throttle",
    "DriftMonitor": "drift",
    "Cursor": "pagination",
    "Paginator": "pagination",
    "Progress": "search_all",
    "VacancySweep": "search_all",
}
__all__ = ["OPERATIONS", *_EXPORTS]  # one list: the table above


def __getattr__(name: str) -> Any:
    if name == "models":  # the models' namespace (hh_async.models), loaded when first named
        return import_module(".models", __name__)
    if name == "OPERATIONS":
        from .operations import registry

        return registry()
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
