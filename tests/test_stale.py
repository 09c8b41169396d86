"""A checkout whose openapi.yml changed after hh_async/_raw was generated says so, plainly."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import pytest

from hh_async.operations import StaleClientWarning, warn_if_stale


def checkout(tmp_path: Path, generated_from: bytes, spec: bytes) -> Path:
    package = tmp_path / "hh_async"
    (package / "_raw").mkdir(parents=True)
    made = package / "_raw" / "generation.json"
    made.write_text(json.dumps({"spec_sha256": hashlib.sha256(generated_from).hexdigest()}))
    (tmp_path / "openapi.yml").write_bytes(spec)
    return package


def test_a_changed_spec_warns_that_the_client_is_stale(tmp_path: Path) -> None:
    package = checkout(tmp_path, b"openapi: 3.0.3  # old", b"openapi: 3.0.3  # new")
    with pytest.warns(StaleClientWarning, match="make generate"):
        warn_if_stale(package)


def test_a_spec_touched_but_unchanged_or_an_installed_package_says_nothing(tmp_path: Path) -> None:
    same = checkout(tmp_path / "a", b"openapi: 3.0.3", b"openapi: 3.0.3")
    installed = tmp_path / "site-packages" / "hh_async"
    installed.mkdir(parents=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_stale(same)
        warn_if_stale(installed)
