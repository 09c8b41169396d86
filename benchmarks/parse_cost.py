"""What tolerant parsing costs: a 100-item vacancy search page parsed by our models vs strict ones.

"Strict" is the same pipeline with the tolerance rule off (required fields required, nullability as the
spec says). Both packages are generated from the same spec into a temporary folder; each variant is timed in
its own interpreter, the variants interleaved round by round, and the ratio taken of the medians.
``json.loads`` of the same bytes is the floor every ratio is also given against; the client decodes with
orjson when installed (``hh-async[fast]``), so that path is timed too.

    python benchmarks/parse_cost.py [--spec openapi.yml] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from codegen import examples, generate  # noqa: E402

TIMER = """
import json, sys, time
from hh_async.jsonlib import loads
from hh_async import OPERATIONS
data = open(sys.argv[1], "rb").read()
model = OPERATIONS["get-vacancies"].responses["200"]
page = json.loads(data)
assert len(model.from_dict(page).items) == 100
best = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    if sys.argv[3] == "json":
        json.loads(data)
    elif sys.argv[3] == "client":
        model.from_dict(loads(data))
    else:
        model.from_dict(json.loads(data))
    best.append(time.perf_counter() - start)
best.sort()
print(best[len(best) // 2])
"""


def search_page(spec: Path) -> bytes:
    """The spec's own search example, its vacancy repeated to 100 items (distinct ids)."""
    doc, _ = generate.overlaid(spec, ROOT / "overlays")
    page = next(v for op, st, _, v in examples.spec_examples(doc) if (op, st) == ("get-vacancies", "200"))
    item = page["items"][0]
    page["items"] = [{**item, "id": str(1000 + i)} for i in range(100)]
    page.update(found=100, per_page=100, pages=1)
    return json.dumps(page, ensure_ascii=False).encode()


def variant(work: Path, name: str, spec: Path, tolerant: bool) -> Path:
    package = work / name / "hh_async"
    shutil.copytree(ROOT / "hh_async", package, ignore=shutil.ignore_patterns("_raw", "__pycache__"))
    generate.generate(spec, ROOT / "overlays", package / "_raw", tolerant=tolerant)
    return package.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", type=Path, default=ROOT / "openapi.yml")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--parses", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        body = work / "page.json"
        body.write_bytes(search_page(args.spec))
        size = body.stat().st_size
        cases = {
            "strict models (spec's rules)": (variant(work, "strict", args.spec, tolerant=False), "model"),
            "tolerant models (hh_async)": (variant(work, "tolerant", args.spec, tolerant=True), "model"),
            "tolerant, client's JSON (orjson)": (work / "tolerant", "client"),
            "json.loads alone": (work / "tolerant", "json"),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, (path, what) in cases.items():
                out = subprocess.run(
                    [sys.executable, "-c", TIMER, str(body), str(args.parses), what],
                    cwd=path,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                times[name].append(float(out.stdout))
    base = statistics.median(times["strict models (spec's rules)"])
    plain = statistics.median(times["json.loads alone"])
    print(f"100-item search page, {size} bytes, {args.parses} parses a round, {args.rounds} rounds")
    print(f"{'case':<34} {'median ms':>10} {'vs strict':>10} {'vs json.loads':>14}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:<34} {median * 1000:>10.2f} {median / base:>10.2f} {median / plain:>14.2f}")


if __name__ == "__main__":
    main()
