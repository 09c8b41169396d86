"""The whole pipeline on every published spec we hold: complete, deterministic, and a readable diff."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codegen import generate, specfile

from .conftest import ROOT


def same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(same_tree(a / d, b / d) for d in cmp.common_dirs)


@pytest.fixture(scope="module", params=["2025-07", "2026-05"])
def generated(
    request: pytest.FixtureRequest, shared_specs: list[Path], tmp_path_factory: pytest.TempPathFactory
):
    """A package dir with our hand-written hh_async and a raw client generated from one shared spec."""
    spec = next(s for s in shared_specs if request.param in s.name)
    work = tmp_path_factory.mktemp(request.param)
    package = work / "hh_async"
    shutil.copytree(ROOT / "hh_async", package, ignore=shutil.ignore_patterns("_raw", "__pycache__"))
    generate.generate(spec, ROOT / "overlays", package / "_raw")
    return spec, package


def test_spec_generates_a_complete_faithful_client(generated: tuple[Path, Path]) -> None:
    spec, package = generated
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "codegen", "report", "--json", "--spec", str(spec), "--package", str(package)],
        cwd=package.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["operations_generated"] == figures["operations_total"] > 100
    assert figures["responses_2xx_json_typed"] == figures["responses_2xx_json_total"] > 80
    assert figures["generator_warnings"] == 0
    assert figures["non_ascii_identifiers"] == 0
    assert figures["examples_failures"] == []
    assert figures["examples_roundtrip_ok"] == figures["examples_total"] > 90
    assert figures["spec_sha256"] == figures["generated_from_sha256"] == specfile.sha256(spec)


def run_tests_on(generated: tuple[Path, Path], test: str) -> None:
    """Run one of our test files in a fresh interpreter on the package generated from another spec."""
    spec, package = generated
    env = {**os.environ, "PYTHONPATH": f"{package.parent}{os.pathsep}{ROOT}", "HH_TEST_SPEC": str(spec)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--import-mode=importlib",
            str(ROOT / "tests" / test),
        ],
        cwd=package.parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout


def test_tolerance_holds_for_this_spec(generated: tuple[Path, Path]) -> None:
    """The property test of tolerant parsing, on the models generated from this spec version."""
    run_tests_on(generated, "test_tolerance.py")


def test_every_paged_list_of_this_spec_reads_to_its_end_or_cap(generated: tuple[Path, Path]) -> None:
    """paginate() over every paginated operation the registry of this spec version lists."""
    run_tests_on(generated, "test_pagination.py::test_every_paged_list_reads_to_its_end_or_its_cap")


def test_fake_server_answers_every_operation_of_this_spec(generated: tuple[Path, Path]) -> None:
    """The fake HH serves whatever spec the package was generated from."""
    run_tests_on(generated, "test_fake_server.py::test_every_operation_answers_and_its_body_parses")


def test_generation_is_deterministic(generated: tuple[Path, Path], tmp_path: Path) -> None:
    spec, package = generated
    generate.generate(spec, ROOT / "overlays", tmp_path / "_raw")
    assert same_tree(package / "_raw", tmp_path / "_raw")


def test_a_warning_fails_generation_and_keeps_the_old_client(
    tmp_path: Path, shared_specs: list[Path]
) -> None:
    """Whatever the generator cannot build, it drops: that is an error, not a warning to scroll past."""
    doc = specfile.load(shared_specs[-1])
    doc["paths"]["/vacancies"]["get"]["requestBody"] = {"content": {"application/xml": {"schema": {}}}}
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc))
    previous = tmp_path / "_raw"
    previous.mkdir()
    (previous / "marker").write_text("old")
    with pytest.raises(generate.GenerationError, match=r"GET /vacancies.*Unsupported content type"):
        generate.generate(broken, ROOT / "overlays", previous)
    assert (previous / "marker").read_text() == "old"
