"""`make spec` / `python -m codegen spec`: a bad source gives a clear error and loses nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from codegen import specfile

from .conftest import ROOT


def run_spec(source: str, output: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codegen", "spec", source, "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    """An openapi.yml from an earlier, good fetch: a failed fetch must leave it as it was."""
    path = tmp_path / "openapi.yml"
    path.write_text("openapi: 3.0.3\n")
    return path


def assert_fails_cleanly(result: subprocess.CompletedProcess[str], previous: Path, *phrases: str) -> None:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    for phrase in phrases:
        assert phrase in result.stderr
    assert previous.read_text() == "openapi: 3.0.3\n"


def test_missing_file(tmp_path: Path, previous: Path) -> None:
    result = run_spec(str(tmp_path / "nope.yml"), previous)
    assert_fails_cleanly(result, previous, "no such file", "HH_SPEC")


def test_html_instead_of_yaml(tmp_path: Path, previous: Path) -> None:
    page = tmp_path / "spec.yml"
    page.write_text("<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>")
    assert_fails_cleanly(run_spec(str(page), previous), previous, "HTML")


def test_truncated_yaml(tmp_path: Path, previous: Path, shared_specs: list[Path]) -> None:
    data = shared_specs[-1].read_bytes()
    for cut in (len(data) // 2, len(data) - 5000, 3000):
        truncated = tmp_path / "spec.yml"
        truncated.write_bytes(data[:cut])
        assert_fails_cleanly(run_spec(str(truncated), previous), previous, "truncated?")


def test_yaml_that_is_not_openapi(tmp_path: Path, previous: Path) -> None:
    other = tmp_path / "spec.yml"
    other.write_text("name: not a spec\nitems: [1, 2]\n")
    assert_fails_cleanly(run_spec(str(other), previous), previous, "not an OpenAPI 3 document")


def test_unreachable_url(previous: Path) -> None:
    result = run_spec("http://127.0.0.1:9/openapi.yml", previous)
    assert_fails_cleanly(result, previous, "could not fetch")


def test_make_spec_reports_a_bad_source(tmp_path: Path) -> None:
    """The Makefile target passes HH_SPEC through and fails with the pipeline's message."""
    spec = ROOT / "openapi.yml"
    before = spec.read_bytes() if spec.exists() else None
    result = subprocess.run(
        ["make", "-s", "spec", f"HH_SPEC={tmp_path / 'missing.yml'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "no such file" in result.stderr
    assert (spec.read_bytes() if spec.exists() else None) == before


def test_good_spec_is_copied(tmp_path: Path, shared_specs: list[Path]) -> None:
    output = tmp_path / "openapi.yml"
    result = run_spec(str(shared_specs[-1]), output)
    assert result.returncode == 0, result.stderr
    assert output.read_bytes() == shared_specs[-1].read_bytes()


def test_a_new_spec_keeps_the_one_it_replaces_for_diff(tmp_path: Path, shared_specs: list[Path]) -> None:
    older, newer = shared_specs[0], shared_specs[-1]
    output = tmp_path / "openapi.yml"
    assert run_spec(str(older), output).returncode == 0
    assert not specfile.previous(output).exists()  # nothing was replaced
    again = run_spec(str(older), output)
    assert not specfile.previous(output).exists()  # the same spec again: nothing to diff
    updated = run_spec(str(newer), output)
    assert updated.returncode == 0, updated.stderr
    assert specfile.previous(output).read_bytes() == older.read_bytes()
    assert output.read_bytes() == newer.read_bytes()
    assert f"codegen diff {specfile.previous(output)} {output}" in updated.stdout
    assert again.returncode == 0


def test_scalars_load_as_json_would_give_them() -> None:
    doc = specfile.parse(
        b"openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n"
        b"      responses: {'200': {description: ok}}\n"
        b"x-example: {created: 2013-10-08T16:13:59+04:00, day: 2024-01-01, n: 10, ok: true, none: null}\n",
        "inline",
    )
    assert doc["x-example"] == {
        "created": "2013-10-08T16:13:59+04:00",
        "day": "2024-01-01",
        "n": 10,
        "ok": True,
        "none": None,
    }


def test_dangling_reference_is_reported() -> None:
    with pytest.raises(specfile.SpecError, match="unresolvable"):
        specfile.parse(
            b"openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n"
            b"      responses: {'200': {$ref: '#/components/responses/Gone'}}\n",
            "inline",
        )
