"""Building hh-async from source: wheels and sdists carry the generated client (codegen/build_backend.py).

The build hooks run as a PEP 517 frontend runs them (pyproject_hooks, the hook runner pip and build use),
in this venv without build isolation, on copies of the tree without ``hh_async/_raw`` or ``openapi.yml``.
The full isolated ``pip install`` from PyPI is what ``make dist`` and the README's Install section do.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pyproject_hooks import BuildBackendHookCaller

from codegen import build_backend

ROOT = Path(__file__).resolve().parent.parent
RAW = "hh_async/_raw/"
GENERATED = ["__init__.py", "facade.py", "registry.py", "types.py", "models/__init__.py"]
GENERATED += ["spec_rules.json", "generation.json"]
# Any attempt to reach the network during a build that must not need it fails at once.
OFFLINE = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "NO_PROXY": ""}


class BuildFailed(Exception):
    def __init__(self, stderr: str) -> None:
        super().__init__(stderr)
        self.stderr = stderr


def hooks(tree: Path, env: Mapping[str, str]) -> BuildBackendHookCaller:
    """The tree's backend as its pyproject.toml declares it, run with exactly ``env`` (HH_SPEC and the
    proxies are controlled per test, whatever the calling shell has)."""
    with (tree / "pyproject.toml").open("rb") as file:
        system = tomllib.load(file)["build-system"]
    base = {k: v for k, v in os.environ.items() if k != "HH_SPEC" and not k.lower().endswith("_proxy")}

    def runner(
        cmd: list[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None
    ) -> None:
        done = subprocess.run(
            cmd, cwd=cwd, env={**base, **env, **(extra_environ or {})}, capture_output=True, text=True
        )
        if done.returncode:
            raise BuildFailed(done.stderr)

    return BuildBackendHookCaller(
        str(tree),
        system["build-backend"],
        system.get("backend-path"),
        runner=runner,
        python_executable=sys.executable,
    )


def clean_copy(tmp: Path) -> Path:
    tree = tmp / "src"
    build_backend.copy_tree(ROOT, tree)
    assert not (tree / RAW).exists() and not (tree / "openapi.yml").exists()
    return tree


def raw_files_of_wheel(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {n: archive.read(n) for n in archive.namelist() if n.startswith(RAW)}


def names_of_wheel(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def codegen_requested(requires: list[str]) -> bool:
    return any(r.startswith("openapi-python-client") for r in requires)


@pytest.fixture(scope="module")
def checkout_wheel(tmp_path_factory: pytest.TempPathFactory, current_spec: Path) -> tuple[Path, Path]:
    """A wheel built from a clean checkout (no _raw, no openapi.yml) with HH_SPEC set; and that tree."""
    tmp = tmp_path_factory.mktemp("checkout")
    tree = clean_copy(tmp)
    caller = hooks(tree, {"HH_SPEC": str(current_spec), **OFFLINE})
    assert codegen_requested(caller.get_requires_for_build_wheel())
    (tmp / "metadata").mkdir()
    metadata = caller.prepare_metadata_for_build_wheel(str(tmp / "metadata"))  # as pip does first
    assert metadata.startswith("hh_async-") and metadata.endswith(".dist-info")
    name = caller.build_wheel(str(tmp / "dist"), metadata_directory=str(tmp / "metadata"))
    return tmp / "dist" / name, tree


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory, current_spec: Path) -> Path:
    tmp = tmp_path_factory.mktemp("sdist")
    tree = clean_copy(tmp)
    caller = hooks(tree, {"HH_SPEC": str(current_spec), **OFFLINE})
    assert codegen_requested(caller.get_requires_for_build_sdist())
    return tmp / "dist" / caller.build_sdist(str(tmp / "dist"))


def test_wheel_from_a_checkout_carries_the_client_generated_from_hh_spec(
    checkout_wheel: tuple[Path, Path], current_spec: Path
) -> None:
    wheel, tree = checkout_wheel
    names = names_of_wheel(wheel)
    for generated in GENERATED:
        assert RAW + generated in names
    assert sum(n.startswith(RAW + "models/") for n in names) > 100
    assert "hh_async/py.typed" in names and not any(n.startswith("codegen/") for n in names)
    meta = json.loads(raw_files_of_wheel(wheel)[RAW + "generation.json"])
    assert meta["spec_sha256"] == hashlib.sha256(current_spec.read_bytes()).hexdigest()
    assert meta["warnings"] == []
    # Generated and built in a copy: the checkout itself is left as it was.
    assert not (tree / RAW).exists() and not (tree / "openapi.yml").exists()
    assert not (tree / "build").exists() and not list(tree.glob("*.egg-info"))


def test_the_installed_wheel_imports_and_sends_a_request(
    checkout_wheel: tuple[Path, Path], tmp_path: Path
) -> None:
    wheel, _tree = checkout_wheel
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    subprocess.run([*pip, "--target", str(target), str(wheel)], check=True)
    script = """
import json, anyio, httpx, hh_async, hh_async._raw
from hh_async import HHClient

seen = []

def answer(request):
    seen.append(str(request.url))
    return httpx.Response(200, json={"found": 1, "pages": 1, "page": 0, "per_page": 5,
                                     "items": [{"id": "7", "name": "Python developer"}]})

async def main():
    async with HHClient(user_agent="pkg-test", transport=httpx.MockTransport(answer)) as hh:
        page = await hh.get_vacancies(text="python", area=["1", "2"], per_page=5)
    print(json.dumps({"package": hh_async.__file__, "raw": hh_async._raw.__file__, "urls": seen,
                      "found": page.found, "first": page.items[0].name}))

anyio.run(main)
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONPATH": str(target)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["package"].startswith(str(target)) and result["raw"].startswith(str(target))
    (url,) = result["urls"]
    assert url.startswith("https://api.hh.ru/vacancies?")
    assert "text=python" in url and "area=1&area=2" in url and "per_page=5" in url
    assert (result["found"], result["first"]) == (1, "Python developer")


def test_sdist_carries_the_client_and_builds_a_wheel_without_spec_or_network(
    sdist: Path, checkout_wheel: tuple[Path, Path], tmp_path: Path
) -> None:
    top = sdist.name.removesuffix(".tar.gz")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        archive.extractall(tmp_path, filter="data")
    for generated in GENERATED:
        assert f"{top}/{RAW}{generated}" in names
    for needed in ["pyproject.toml", "codegen/build_backend.py", "codegen/generate.py", "LICENSE"]:
        assert f"{top}/{needed}" in names
    assert f"{top}/openapi.yml" not in names and not any("__pycache__" in n for n in names)

    unpacked = tmp_path / top
    caller = hooks(unpacked, OFFLINE)  # no HH_SPEC, no network
    assert not codegen_requested(caller.get_requires_for_build_wheel())
    wheel = tmp_path / "dist" / caller.build_wheel(str(tmp_path / "dist"))
    from_sdist = raw_files_of_wheel(wheel)
    shipped = {p.relative_to(unpacked).as_posix(): p.read_bytes() for p in (unpacked / RAW).rglob("*.*")}
    assert from_sdist == shipped
    # The sdist's and the checkout wheel's clients were generated separately from one spec: same bytes.
    assert from_sdist == raw_files_of_wheel(checkout_wheel[0])


def test_checkout_wheel_reuses_raw_only_when_generated_from_the_same_spec(
    sdist: Path, tmp_path: Path, current_spec: Path
) -> None:
    tree = clean_copy(tmp_path)
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "sdist", filter="data")
    shutil.copytree(tmp_path / "sdist" / sdist.name.removesuffix(".tar.gz") / RAW, tree / RAW)

    marked = tree / RAW / "types.py"
    marked.write_bytes(marked.read_bytes() + b"# the tree's own _raw\n")
    same = hooks(tree, {"HH_SPEC": str(current_spec), **OFFLINE})
    assert not codegen_requested(same.get_requires_for_build_wheel())
    wheel = tmp_path / "dist" / same.build_wheel(str(tmp_path / "dist"))
    assert raw_files_of_wheel(wheel)[RAW + "types.py"].endswith(b"# the tree's own _raw\n")
    other = tmp_path / "other.yml"  # another spec: one byte more is enough to need a new client
    other.write_bytes(current_spec.read_bytes() + b"\n")
    assert codegen_requested(hooks(tree, {"HH_SPEC": str(other), **OFFLINE}).get_requires_for_build_wheel())
    # Unset, HH_SPEC defaults to the tree's openapi.yml, as `make spec` left it.
    (tree / "openapi.yml").write_bytes(current_spec.read_bytes())
    assert not codegen_requested(hooks(tree, OFFLINE).get_requires_for_build_wheel())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("problem", ["missing file", "unreachable URL", "HTML page"])
def test_a_spec_that_cannot_be_had_fails_the_build_with_one_line_naming_hh_spec(
    problem: str, tmp_path: Path
) -> None:
    tree = clean_copy(tmp_path)
    if problem == "missing file":
        spec = str(tmp_path / "nowhere.yml")
    elif problem == "unreachable URL":
        spec = f"http://127.0.0.1:{_closed_port()}/openapi.yml"
    else:
        (tmp_path / "page.yml").write_text("<!doctype html><html><body>502 Bad Gateway</body></html>")
        spec = str(tmp_path / "page.yml")
    caller = hooks(tree, {"HH_SPEC": spec, "NO_PROXY": "*"})
    with pytest.raises(BuildFailed) as failed:
        caller.get_requires_for_build_wheel()
        caller.build_wheel(str(tmp_path / "dist"))
    lines = [line for line in failed.value.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in failed.value.stderr, failed.value.stderr
    assert f"HH_SPEC={spec}" in errors[0]
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())


@pytest.mark.filterwarnings("ignore:Editable installation")  # setuptools' notice, forwarded by the hooks
def test_editable_install_needs_no_spec(tmp_path: Path) -> None:
    """`make install` installs editable before it fetches the spec and generates."""
    tree = clean_copy(tmp_path)
    caller = hooks(tree, {"HH_SPEC": str(tmp_path / "not-yet.yml"), **OFFLINE})
    assert not codegen_requested(caller.get_requires_for_build_editable())
    wheel = tmp_path / "dist" / caller.build_editable(str(tmp_path / "dist"))
    names = names_of_wheel(wheel)
    assert any(n.endswith(".pth") for n in names) and not any(n.startswith(RAW) for n in names)
    assert not (tree / RAW).exists()


def test_codegen_finds_ruff_installed_outside_the_interpreters_scripts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """pip's isolated build installs ruff under a prefix of its own, not in sysconfig's "scripts", where
    codegen runs it from; the backend points "scripts" at the ruff there is, for the generation only."""
    real = sysconfig.get_path

    def without_ruff(name: str, *args: Any, **kwargs: Any) -> str:
        return str(tmp_path) if name == "scripts" and not args and not kwargs else real(name, *args, **kwargs)

    monkeypatch.setattr(sysconfig, "get_path", without_ruff)
    with build_backend._ruff_where_codegen_looks():
        assert Path(sysconfig.get_path("scripts"), "ruff").is_file()
    assert sysconfig.get_path("scripts") == str(tmp_path)
