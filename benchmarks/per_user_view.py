"""What a per-user view costs: ``hh.with_options(auth=user_auth)``, one per web request.

A view is a shallow copy of the client with another auth: no pool, no throttle, no transport of its own.
Side by side in one run: ``copy.copy`` of a small three-attribute object (the floor for any copy), creating
a view, and creating a view plus the ``UserToken`` an app would build for the request. The target is well
under 50 µs per view; the ratio to ``copy.copy`` is what to compare between versions and machines.

    python benchmarks/per_user_view.py [--number 20000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import copy
import timeit
from collections.abc import Callable

from hh_async import HHClient
from hh_async.auth import StaticToken, UserToken
from hh_async.tokens import MemoryTokenStore, TokenPair


class Small:
    def __init__(self) -> None:
        self.a, self.b, self.c = 1, "two", 3.0


def best_per_call(work: Callable[[], object], number: int, repeat: int) -> float:
    """Seconds per call, the best of ``repeat`` runs (the least disturbed by the rest of the machine)."""
    return min(timeit.repeat(work, number=number, repeat=repeat)) / number


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--number", type=int, default=20_000, help="calls per timed run")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs; the best counts")
    args = parser.parse_args()

    hh = HHClient(user_agent="bench/1.0 (bench@example.com)")
    auth = StaticToken("user-access-token")
    store = MemoryTokenStore(TokenPair("user-access-token", "user-refresh-token"))
    small = Small()

    floor = best_per_call(lambda: copy.copy(small), args.number, args.repeat)
    view = best_per_call(lambda: hh.with_options(auth=auth), args.number, args.repeat)
    with_auth = best_per_call(
        lambda: hh.with_options(auth=UserToken("client-id", "client-secret", store)), args.number, args.repeat
    )
    for name, seconds in (
        ("copy.copy(small object)", floor),
        ("hh.with_options(auth=...)", view),
        ("  + UserToken(...) for the request", with_auth),
    ):
        print(f"{name:<36}{seconds * 1e6:7.2f} µs   {seconds / floor:5.1f}x copy.copy")
    print(f"target: under 50 µs per view: {'met' if view < 50e-6 else 'NOT met'}")


if __name__ == "__main__":
    main()
