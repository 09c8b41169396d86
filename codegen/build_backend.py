"""PEP 517 build backend: setuptools, with the generated client (``hh_async/_raw``) built in.

``hh_async/_raw`` is a build artifact, never committed, so a wheel or sdist built from a checkout must
generate it. Where the spec comes from: ``$HH_SPEC`` (a path or an http(s) URL); unset, the tree's
``openapi.yml`` (what ``make spec`` fetched); without one, HH's published spec.

- **sdist from a checkout**: always generated afresh, from that spec, in a copy of the tree, so what gets
  published is what this tree's codegen makes of it.
- **wheel from a checkout** (``pip install .``, ``pip install git+URL``): built in a copy of the tree, with
  the tree's ``_raw`` when it was generated from that very spec (its ``generation.json`` holds the spec's
  sha256), else with one generated there. The checkout itself is never written to.
- **wheel from an sdist**: the sdist carries ``_raw``; no spec, no network, ``$HH_SPEC`` is ignored.
- **editable install** (``make install``): plain setuptools; the Makefile generates ``_raw`` afterwards.

The codegen's requirements (the ``codegen`` extra and ruff, read from pyproject.toml) are asked of the
frontend only when the build may generate (``get_requires_for_build_*``), so installing an sdist or an
editable checkout pulls none of them. A spec that cannot be had ends the build with one line naming it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import re
import shutil
import sys
import sysconfig
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

# setuptools ships no type information; every value taken from it is converted below.
_setuptools: ModuleType = importlib.import_module("setuptools.build_meta")

ConfigSettings = Mapping[str, Any] | None

DEFAULT_SOURCE = "https://api.hh.ru/openapi/specification/public"  # the Makefile's default HH_SPEC
RAW = Path("hh_async", "_raw")
SPEC = "openapi.yml"

# What a copy of the tree leaves out: VCS data, environments, caches and earlier build output.
_IGNORED_ANYWHERE = {".git", ".hg", ".venv", "venv", ".tox", ".nox", "__pycache__", ".mypy_cache"}
_IGNORED_ANYWHERE |= {".ruff_cache", ".pytest_cache", ".hypothesis"}
_IGNORED_AT_ROOT = {"build", "dist", SPEC, "openapi.previous.yml"}


@dataclass(frozen=True)
class Spec:
    """Where the spec for a build comes from, and how to name that to a person reading a build log."""

    location: str
    origin: str

    @property
    def is_url(self) -> bool:
        return self.location.startswith(("http://", "https://"))


def spec_for(root: Path, environ: Mapping[str, str] = os.environ) -> Spec:
    """``$HH_SPEC``, else the tree's ``openapi.yml``, else HH's published spec; a relative ``HH_SPEC``
    is relative to the tree being built (frontends run the backend there)."""
    given = environ.get("HH_SPEC", "").strip()
    if given:
        if given.startswith(("http://", "https://")):
            return Spec(given, f"HH_SPEC={given}")
        return Spec(str((root / given).resolve()), f"HH_SPEC={given}")
    if (root / SPEC).is_file():
        return Spec(str(root / SPEC), f"{SPEC} of the source tree (HH_SPEC unset)")
    return Spec(DEFAULT_SOURCE, f"HH's published spec {DEFAULT_SOURCE} (HH_SPEC unset)")


def is_sdist_tree(root: Path) -> bool:
    """An unpacked sdist has PKG-INFO at its top; a checkout does not."""
    return (root / "PKG-INFO").is_file() and (root / RAW / "__init__.py").is_file()


def generated_from(root: Path) -> str | None:
    """The sha256 of the spec the tree's ``_raw`` was generated from, if it has a complete one."""
    try:
        meta = json.loads((root / RAW / "generation.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    digest = meta.get("spec_sha256") if isinstance(meta, dict) else None
    return digest if isinstance(digest, str) and (root / RAW / "registry.py").is_file() else None


def codegen_requirements(root: Path) -> list[str]:
    """The ``codegen`` extra of pyproject.toml, plus ruff (the generator formats its output with it)."""
    with (root / "pyproject.toml").open("rb") as file:
        extras = tomllib.load(file)["project"]["optional-dependencies"]
    requirements = [str(r) for r in extras["codegen"]]
    if not any(_name(r) == "ruff" for r in requirements):
        requirements += [str(r) for r in extras.get("dev", []) if _name(r) == "ruff"] or ["ruff"]
    return requirements


def _name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9._-]+)", requirement)
    return match.group(1).lower().replace("_", "-") if match else ""


def _fail(spec: Spec, reason: object) -> SystemExit:
    # SystemExit with a message: the frontend shows this one line, not a traceback of the hook.
    text = " ".join(str(reason).split())
    text = text.removeprefix(f"{spec.location}: ")  # codegen's errors start with the source, named already
    return SystemExit(f"error: hh-async cannot generate hh_async/_raw from {spec.origin}: {text}")


def _spec_bytes(spec: Spec) -> bytes:
    """The spec's bytes; a local file is read without the codegen requirements (they may be absent when
    the tree's ``_raw`` already matches it), a URL is fetched with them."""
    if not spec.is_url:
        try:
            return Path(spec.location).read_bytes()
        except OSError as exc:
            raise _fail(spec, f"cannot read it ({exc.strerror}); set HH_SPEC to a path or URL") from None
    from . import specfile

    try:
        return specfile.read_source(spec.location)
    except specfile.SpecError as exc:
        raise _fail(spec, exc) from None


def _local_spec_missing(spec: Spec) -> bool:
    return not spec.is_url and not Path(spec.location).is_file()


# --- the hooks -----------------------------------------------------------------------------------------


def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> list[str]:
    return _requires(_setuptools.get_requires_for_build_wheel, config_settings, sdist=False)


def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> list[str]:
    return _requires(_setuptools.get_requires_for_build_sdist, config_settings, sdist=True)


def _requires(
    hook: Callable[[ConfigSettings], Any], config_settings: ConfigSettings, *, sdist: bool
) -> list[str]:
    """setuptools' own requirements, plus the codegen's when this build may generate: every sdist of a
    checkout; a wheel of a checkout unless its ``_raw`` was generated from the local spec it names (a URL
    must be fetched to tell, and fetching takes the codegen's requirements)."""
    root = Path.cwd()
    if is_sdist_tree(root):
        return [str(r) for r in hook(config_settings)]
    spec = spec_for(root)
    if _local_spec_missing(spec):  # before anything is installed for a build that cannot succeed
        raise _fail(spec, "no such file (set HH_SPEC to a path or an http(s) URL of HH's spec)")
    with _plain_copy(root):
        requires = [str(r) for r in hook(config_settings)]
    if not sdist and not spec.is_url and generated_from(root) == _sha256(Path(spec.location).read_bytes()):
        return requires
    return requires + codegen_requirements(root)


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: ConfigSettings = None) -> str:
    # The metadata does not depend on the generated code.
    root = Path.cwd()
    if is_sdist_tree(root):
        return str(_setuptools.prepare_metadata_for_build_wheel(metadata_directory, config_settings))
    out = str(Path(metadata_directory).resolve())
    with _plain_copy(root):
        return str(_setuptools.prepare_metadata_for_build_wheel(out, config_settings))


def build_wheel(
    wheel_directory: str, config_settings: ConfigSettings = None, metadata_directory: str | None = None
) -> str:
    root = Path.cwd()
    if is_sdist_tree(root):
        if os.environ.get("HH_SPEC"):
            print("hh-async: HH_SPEC ignored: this sdist carries its generated client", file=sys.stderr)
        return str(_setuptools.build_wheel(wheel_directory, config_settings, metadata_directory))
    spec = spec_for(root)
    data = _spec_bytes(spec)
    out = str(Path(wheel_directory).resolve())
    # Built in a copy even when the tree's _raw is reused: a stale build/ of the checkout (setuptools
    # packs whatever build/lib holds) cannot slip modules of an older client into the wheel.
    with _staged_copy(root, spec, data) as staging, _working_directory(staging):
        return str(_setuptools.build_wheel(out, config_settings, None))


def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    root = Path.cwd()
    if is_sdist_tree(root):
        return str(_setuptools.build_sdist(sdist_directory, config_settings))
    spec = spec_for(root)
    out = str(Path(sdist_directory).resolve())
    with _staged_copy(root, spec, _spec_bytes(spec), reuse=False) as staging, _working_directory(staging):
        return str(_setuptools.build_sdist(out, config_settings))


# Editable installs take the tree as it is: `make install` installs first, then fetches and generates.
get_requires_for_build_editable = _setuptools.get_requires_for_build_editable
prepare_metadata_for_build_editable = _setuptools.prepare_metadata_for_build_editable
build_editable = _setuptools.build_editable


# --- generating in a copy of the tree ------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def copy_tree(root: Path, destination: Path) -> None:
    """The tree without VCS data, environments, caches, earlier builds, the spec or ``_raw``."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        here = Path(directory).resolve()
        skipped = {n for n in names if n in _IGNORED_ANYWHERE or n.endswith(".egg-info")}
        if here == root.resolve():
            skipped |= _IGNORED_AT_ROOT.intersection(names)
        if here == (root / RAW.parent).resolve():
            skipped |= {RAW.name}.intersection(names)
        return skipped

    shutil.copytree(root, destination, ignore=ignore)


@contextlib.contextmanager
def _plain_copy(root: Path) -> Iterator[Path]:
    """Work in a copy of the tree: setuptools leaves egg-info and build/ where it runs, and a checkout
    (possibly read-only) is not ours to write to."""
    with tempfile.TemporaryDirectory(prefix="hh-async-build-") as tmp:
        staging = Path(tmp, "src")
        copy_tree(root, staging)
        with _working_directory(staging):
            yield staging


@contextlib.contextmanager
def _staged_copy(root: Path, spec: Spec, data: bytes, *, reuse: bool = True) -> Iterator[Path]:
    """A copy of the tree with a ``_raw`` for the spec ``data``: the tree's own when it was generated from
    that spec and ``reuse`` allows, else generated afresh. Removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="hh-async-build-") as tmp:
        staging = Path(tmp, "src")
        copy_tree(root, staging)
        if reuse and generated_from(root) == _sha256(data):
            print(f"hh-async: hh_async/_raw of the tree is up to date with {spec.origin}", file=sys.stderr)
            shutil.copytree(root / RAW, staging / RAW, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            _generate(staging, spec, data)
        yield staging


def _generate(staging: Path, spec: Spec, data: bytes) -> None:
    from . import generate, overlay, specfile  # the codegen requirements are there by now

    spec_path = staging / SPEC
    spec_path.write_bytes(data)
    print(f"hh-async: generating hh_async/_raw from {spec.origin}", file=sys.stderr)
    try:
        specfile.parse(data, spec.location)  # an error page or a truncated file, named as given
        with _ruff_where_codegen_looks():
            generate.generate(spec_path, staging / "overlays", staging / RAW)
    except (specfile.SpecError, overlay.OverlayError, generate.GenerationError) as exc:
        raise _fail(spec, exc) from None
    spec_path.unlink()  # the sdist carries the client, not the spec (generation.json has its sha256)


@contextlib.contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def _ruff_where_codegen_looks() -> Iterator[None]:
    """codegen runs ruff from ``sysconfig.get_path("scripts")``. pip's isolated build environment installs
    ruff under a prefix of its own, outside that directory, so point "scripts" there for the generation.
    Not needed once codegen asks ruff itself where it is (``ruff.find_ruff_bin()``)."""
    scripts = sysconfig.get_path("scripts")
    if Path(scripts, "ruff" + (sysconfig.get_config_var("EXE") or "")).is_file():
        yield
        return
    try:
        found = str(Path(importlib.import_module("ruff").find_ruff_bin()).parent)
    except (ImportError, FileNotFoundError):
        yield  # no ruff at all: the generator reports it, and that fails the generation
        return
    original = sysconfig.get_path

    def get_path(name: str, *args: Any, **kwargs: Any) -> str:
        return found if name == "scripts" and not args and not kwargs else original(name, *args, **kwargs)

    sysconfig.get_path = get_path
    try:
        yield
    finally:
        sysconfig.get_path = original
