"""hh-async: an asyncio client for the HeadHunter (hh.ru) API.

Importing the package is cheap: the generated client (``hh_async._raw``) and its hundreds of models load
only when first used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .auth import AppToken, StaticToken, UserToken, authorization_request, exchange_code
    from .client import HHClient
    from .drift import DriftMonitor
    from .errors import HHError
    from .operations import Operation
    from .pagination import Cursor, Paginator
    from .retry import RetryPolicy
    from .search_all import Progress, VacancySweep
    from .throttle import Throttle
    from .tokens import CallbackTokenStore, JsonFileTokenStore, MemoryTokenStore, TokenPair

    OPERATIONS: Mapping[str, Operation]

__version__ = "0.1.0"

# The public names, each loaded from its module on first use.
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
    "HHError": "errors",
    "RetryPolicy": "retry",
    "Throttle": "throttle",
    "DriftMonitor": "drift",
    "Cursor": "pagination",
    "Paginator": "pagination",
    "Progress": "search_all",
    "VacancySweep": "search_all",
}
__all__ = [
    "OPERATIONS",
    "AppToken",
    "CallbackTokenStore",
    "Cursor",
    "DriftMonitor",
    "HHClient",
    "HHError",
    "JsonFileTokenStore",
    "MemoryTokenStore",
    "Paginator",
    "Progress",
    "RetryPolicy",
    "StaticToken",
    "Throttle",
    "TokenPair",
    "UserToken",
    "VacancySweep",
    "authorization_request",
    "exchange_code",
]


def __getattr__(name: str) -> Any:
    if name == "OPERATIONS":
        from .operations import registry

        return registry()
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
