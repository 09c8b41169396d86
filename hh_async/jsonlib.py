"""JSON decoding: orjson when it is installed (``hh-async[fast]``), the standard library otherwise.

Both raise a ValueError subclass on a broken body, and both return plain dicts, lists and strings.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

loads: Callable[[bytes | str], Any]
try:
    import orjson
except ImportError:  # pragma: no cover - depends on the install
    loads = json.loads
else:
    loads = orjson.loads

__all__ = ["loads"]
