"""hh-async: an asyncio client for the HeadHunter (hh.ru) API.

Importing the package is cheap: the generated client (``hh_async._raw``) and its hundreds of models load
only when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .operations import Operation

    OPERATIONS: Mapping[str, Operation]

__all__ = ["OPERATIONS"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "OPERATIONS":
        from .operations import registry

        return registry()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
