"""Import cost of hh_async against its own dependencies, measured side by side in one run.

Each case runs in a fresh interpreter, the cases interleaved round by round so that machine noise hits them
alike; the figure is the ratio of medians against ``import httpx, attrs, anyio``.

    python benchmarks/import_time.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

EAGER = (
    "import pkgutil, importlib, hh_async._raw.models as m\n"
    "for info in pkgutil.iter_modules(m.__path__): importlib.import_module(f'{m.__name__}.{info.name}')"
)
CASES = {
    "baseline: import httpx, attrs, anyio": "import httpx, attrs, anyio",
    "import hh_async": "import hh_async",
    "import hh_async; hh_async.HHClient": "import hh_async; hh_async.HHClient",
    "hh_async.OPERATIONS + the get_vacancies page model": (
        "import hh_async; hh_async.OPERATIONS['get-vacancies'].responses['200']"
    ),
    "eager layout: every model imported": EAGER,
}


# As installed packages are: pip compiles .pyc files at install time, so the warm-up must be allowed to write
# ours (a PYTHONDONTWRITEBYTECODE environment would otherwise time the compiler, for our modules only).
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def once(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=ENV)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    for code in CASES.values():  # warm the file cache and .pyc files
        once(code)
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.rounds):
        for name, code in CASES.items():
            times[name].append(once(code))
    base = statistics.median(next(iter(times.values())))
    print(f"{'case':<52} {'median ms':>10} {'ratio':>7}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:<52} {median * 1000:>10.1f} {median / base:>7.2f}")


if __name__ == "__main__":
    main()
