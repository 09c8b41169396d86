"""What building models costs: a real-sized 100-item search page, lazy models vs the generator's eager ones.

Both packages are generated from the same spec into a temporary folder (``lazy``: ours; ``eager``: the
same pipeline with openapi-python-client's own model template, what hh_async shipped before lazy models).
Each case runs in its own interpreter, the cases interleaved round by round; a round's figure is the
median CPU time (``time.process_time``: other processes on a shared machine count less than with a wall
clock) of ``--parses`` runs, and the table gives the median of the rounds and their spread (min-max).
Ratios are to ``orjson.loads`` of the same bytes, the floor a hand-written client pays.

Cases: ``parse`` builds the page model only; ``id+name`` also reads ``id`` and ``name`` of every item;
``every field`` reads every field of every model in the page, nested ones included.

    python benchmarks/parse_cost.py [--spec openapi.yml] [--rounds 7] [--parses 100]
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

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from codegen import examples, generate  # noqa: E402

TIMER = """
import statistics, sys, time
import orjson
from hh_async.jsonlib import loads
from hh_async import OPERATIONS
data = open(sys.argv[1], "rb").read()
parses, case = int(sys.argv[2]), sys.argv[3]
sys.path.insert(1, sys.argv[4])  # the benchmarks (after the package under test, first on the path)
from reading import read_every_field
model = OPERATIONS["get-vacancies"].responses["200"]


def run():
    if case == "orjson":
        return orjson.loads(data)
    page = model.from_dict(loads(data))
    if case == "id+name":
        for item in page.items:
            item.id, item.name
    elif case == "every field":
        read_every_field(page)
    return page


assert len(model.from_dict(loads(data)).items) == 100
run()
times = []
for _ in range(parses):
    start = time.process_time()
    run()
    times.append(time.process_time() - start)
print(statistics.median(times))
"""


def search_page(spec: Path) -> bytes:
    """The spec's own search example (HH's field set), its vacancy repeated to 100 items (distinct ids)."""
    doc, _ = generate.overlaid(spec, ROOT / "overlays")
    page = next(v for op, st, _, v in examples.spec_examples(doc) if (op, st) == ("get-vacancies", "200"))
    item = page["items"][0]
    page["items"] = [{**item, "id": str(1000 + i)} for i in range(100)]
    page.update(found=100, per_page=100, pages=1)
    return json.dumps(page, ensure_ascii=False).encode()


def variant(work: Path, name: str, spec: Path, lazy: bool) -> Path:
    package = work / name / "hh_async"
    shutil.copytree(ROOT / "hh_async", package, ignore=shutil.ignore_patterns("_raw", "__pycache__"))
    generate.generate(spec, ROOT / "overlays", package / "_raw", lazy=lazy)
    return package.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", type=Path, default=ROOT / "openapi.yml")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--parses", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        body = work / "page.json"
        body.write_bytes(search_page(args.spec))
        size = body.stat().st_size
        packages = {
            "eager": variant(work, "eager", args.spec, lazy=False),
            "lazy": variant(work, "lazy", args.spec, lazy=True),
        }
        cases = [("orjson.loads", "lazy", "orjson")] + [
            (f"{name}: {what}", name, what)
            for what in ("parse", "id+name", "every field")
            for name in packages
        ]
        times: dict[str, list[float]] = {label: [] for label, _, _ in cases}
        for _ in range(args.rounds):
            for label, name, what in cases:
                out = subprocess.run(
                    [sys.executable, "-c", TIMER, str(body), str(args.parses), what, str(HERE)],
                    cwd=packages[name],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                times[label].append(float(out.stdout))
    floor = statistics.median(times["orjson.loads"])
    print(f"100-item search page, {size} bytes; {args.parses} parses a round, {args.rounds} rounds")
    print(f"{'case':<26} {'median ms':>10} {'spread ms':>16} {'x orjson':>9}")
    for label, samples in times.items():
        median = statistics.median(samples)
        spread = f"{min(samples) * 1000:.2f}-{max(samples) * 1000:.2f}"
        print(f"{label:<26} {median * 1000:>10.2f} {spread:>16} {median / floor:>9.2f}")


if __name__ == "__main__":
    main()
