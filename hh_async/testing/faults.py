"""Fault injection for the fake server: HH's (and its proxies') bad days, on purpose and by seed."""

from __future__ import annotations

import random
import re
import time
from collections import Counter, deque

import attrs

KINDS = ("503", "502_html", "429", "drop", "truncate", "slow")
REFUSALS = (None, "anonymous", "geo", "application")


@attrs.define
class Faults:
    """What goes wrong, how often. ``rate`` is the chance that a request gets one of ``kinds``."""

    rate: float = 0.0
    kinds: tuple[str, ...] = ("503", "502_html", "429", "drop")
    routes: str | None = None
    """A regular expression: only paths it matches get faults (None: every path)."""
    rps_limit: float | None = None
    """Above this many requests in the last second, answer 429 (HH: about 10 per IP)."""
    captcha_for_anonymous: bool = False
    """Searches without a token get ``403 captcha_required``, as HH asks after the first one."""
    refuse: str | None = None
    """HH's access refusals, for every API call: ``anonymous`` (a bare 403 to calls without a token, as
    since April 2026), ``geo`` (451 to this region) or ``application`` (403 ``application_not_found``)."""
    slow_seconds: float = 5.0
    latency: float = 0.0
    """Seconds every answer waits before it starts: the round trip to a real HH (about 0.05 from Moscow)."""
    seed: int = 0
    injected: Counter[str] = attrs.field(init=False, factory=Counter)
    """Faults answered so far, by kind."""
    _rng: random.Random = attrs.field(init=False, repr=False)
    _recent: deque[float] = attrs.field(init=False, repr=False, factory=deque)

    def __attrs_post_init__(self) -> None:
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {KINDS}")
        if self.refuse not in REFUSALS:
            raise ValueError(f"unknown refusal {self.refuse!r}; known: {REFUSALS[1:]}")
        if not 0 <= self.rate <= 1:
            raise ValueError(f"rate is a probability, got {self.rate}")
        self._rng = random.Random(self.seed)

    def pick(self, path: str) -> str | None:
        """The fault for this request, if any."""
        if self.rps_limit is not None:
            now = time.monotonic()
            self._recent.append(now)
            while self._recent and self._recent[0] < now - 1:
                self._recent.popleft()
            if len(self._recent) > self.rps_limit:
                self.injected["429"] += 1
                return "429"
        on_route = self.routes is None or re.search(self.routes, path)
        if self.rate and on_route and self._rng.random() < self.rate:
            kind = self._rng.choice(self.kinds)
            self.injected[kind] += 1
            return kind
        return None
