"""Command line of the codegen pipeline.

python -m codegen spec [SOURCE]      fetch the spec (default: $HH_SPEC, else HH's URL) into openapi.yml
python -m codegen generate           openapi.yml + overlays/ -> hh_async/_raw
python -m codegen report [--json]    completeness and fidelity figures of the generated client
python -m codegen diff OLD NEW       what a new spec changes for Python callers: methods, parameters, models
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import diff, generate, overlay, specfile

ROOT = generate.ROOT
SPEC = ROOT / "openapi.yml"
OVERLAYS = ROOT / "overlays"
RAW = ROOT / "hh_async" / "_raw"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    spec = commands.add_parser("spec", help="fetch the spec into openapi.yml")
    spec.add_argument("source", nargs="?", help="path or URL (default: $HH_SPEC, else HH's published spec)")
    spec.add_argument("--output", type=Path, default=SPEC)
    gen = commands.add_parser("generate", help="generate hh_async/_raw from openapi.yml")
    gen.add_argument("--spec", type=Path, default=SPEC)
    gen.add_argument("--output", type=Path, default=RAW, help="where the raw package goes")
    gen.add_argument("--allow-warnings", action="store_true", help="write the client even if incomplete")
    report = commands.add_parser("report", help="completeness figures of the generated client")
    report.add_argument("--spec", type=Path, default=SPEC)
    report.add_argument("--package", type=Path, default=RAW.parent, help="the hh_async package to inspect")
    report.add_argument("--json", action="store_true", help="print JSON (the default is a short summary)")
    compare = commands.add_parser("diff", help="what changed between two spec versions")
    compare.add_argument("old", help="path or URL of the older spec")
    compare.add_argument("new", help="path or URL of the newer spec")
    compare.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    try:
        if args.command == "spec":
            source = args.source or os.environ.get("HH_SPEC") or specfile.DEFAULT_SOURCE
            kept = specfile.previous(args.output)
            before = kept.stat().st_mtime_ns if kept.exists() else None
            doc = specfile.fetch(source, args.output)
            print(f"{args.output}: {len(doc['paths'])} paths from {source}")
            if kept.exists() and kept.stat().st_mtime_ns != before:
                print(f"the spec it replaced is in {kept}: python -m codegen diff {kept} {args.output}")
        elif args.command == "generate":
            _require_spec(args.spec)
            result = generate.generate(args.spec, OVERLAYS, args.output, allow_warnings=args.allow_warnings)
            for note in result.overlay_notes + result.warnings:
                print(note, file=sys.stderr)
            print(f"{args.output}: {result.operations_generated} operations, {len(result.warnings)} warnings")
        elif args.command == "report":
            _require_spec(args.spec)
            from . import report as report_module

            doc, _notes = generate.prepare(args.spec, OVERLAYS)
            figures = report_module.build(doc, specfile.sha256(args.spec), args.package)
            print(json.dumps(figures, indent=2, ensure_ascii=False) if args.json else _summary(figures))
            if figures["stale"]:
                stale = f"{args.package}/_raw is stale: {args.spec} changed since; run `make generate`"
                print(stale, file=sys.stderr)
        elif args.command == "diff":
            old = specfile.parse(specfile.read_source(args.old), args.old)
            new = specfile.parse(specfile.read_source(args.new), args.new)
            changes = diff.compare(old, new)
            print(json.dumps(changes, indent=2, ensure_ascii=False) if args.json else diff.render(changes))
    except (specfile.SpecError, overlay.OverlayError, generate.GenerationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _require_spec(path: Path) -> None:
    if not path.is_file():
        raise specfile.SpecError(f"{path}: no spec yet: run `make spec` (HH_SPEC=path-or-URL) first")


def _summary(figures: dict[str, object]) -> str:
    keys = [k for k, v in figures.items() if isinstance(v, int | str) and not isinstance(v, bool)]
    return "\n".join(f"{key}: {figures[key]}" for key in keys)


if __name__ == "__main__":
    sys.exit(main())
