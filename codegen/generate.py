"""The pipeline: spec -> overlays -> normalizer -> openapi-python-client -> hh_async/_raw.

The generator runs in-process on the normalized document, so its parsed view of the API (endpoints,
responses, model classes) is at hand for our own templates: the operation registry is rendered from it.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sysconfig
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openapi_python_client import Project, strings
from openapi_python_client.config import Config, ConfigFile, MetaType
from openapi_python_client.parser import GeneratorData
from openapi_python_client.parser.errors import GeneratorError

from . import facade, normalize, overlay, promises, readers, registry, specfile, strict_spec

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates"
CONFIG = Path(__file__).resolve().parent / "config.yml"
PACKAGE = "_raw"


class GenerationError(Exception):
    """The generator reported warnings or errors: the output would be incomplete."""


@dataclass
class Result:
    spec: dict[str, Any]
    """The normalized document the client was generated from."""
    overlay_notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    operations_generated: int = 0


def overlaid(spec_path: Path, overlays_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """Load the spec and apply every overlay in order; return it with the overlays' notes."""
    doc = specfile.load(spec_path)
    notes: list[str] = []
    for name, document in overlay.load_overlays(overlays_dir):
        notes += overlay.apply_overlay(doc, document, name)
    return doc, notes


def prepare(spec_path: Path, overlays_dir: Path, tolerant: bool = True) -> tuple[dict[str, Any], list[str]]:
    """The overlaid spec, normalized for the generator; with the overlays' notes."""
    doc, notes = overlaid(spec_path, overlays_dir)
    return normalize.normalize(doc, tolerant=tolerant), notes


def _config() -> Config:
    config_file = ConfigFile.load_from_path(CONFIG)
    ruff = Path(sysconfig.get_path("scripts")) / "ruff"
    config_file.post_hooks = [
        f"{ruff} check . --no-cache --fix-only --quiet --extend-select=I --exit-zero",
        f"{ruff} format . --no-cache --quiet",
    ]
    return Config.from_sources(
        config_file,
        MetaType.NONE,
        document_source=Path("openapi.json"),
        file_encoding="utf-8",
        overwrite=True,
        output_path=None,
    )


def _describe(error: GeneratorError) -> str:
    detail = (error.detail or "").strip().splitlines()
    return f"{error.level.value}: {error.header.strip()}" + (f": {' '.join(detail)}" if detail else "")


def generate(
    spec_path: Path,
    overlays_dir: Path,
    destination: Path,
    *,
    allow_warnings: bool = False,
    tolerant: bool = True,
    lazy: bool = True,
) -> Result:
    """Generate the raw client into ``destination``. A generator warning means a dropped schema, response or
    operation, so it fails the generation (and leaves ``destination`` as it was) unless allowed.

    ``lazy=False`` renders models with the generator's own (eager) template: only to measure against."""
    original, notes = overlaid(spec_path, overlays_dir)
    strict = strict_spec.render(strict_spec.extract(original))
    spec = normalize.normalize(original, tolerant=tolerant)
    config = _config()
    with tempfile.TemporaryDirectory() as tmp:
        config.output_path = Path(tmp) / PACKAGE
        data = GeneratorData.from_dict(json.loads(json.dumps(spec)), config=config)
        if isinstance(data, GeneratorError):
            raise GenerationError(_describe(data))
        templates = TEMPLATES
        if not lazy:
            templates = Path(tmp) / "templates"
            shutil.copytree(TEMPLATES, templates, ignore=shutil.ignore_patterns("model.py.jinja"))
        project = _Project(openapi=data, config=config, custom_template_path=templates)
        project.spec = spec
        with contextlib.redirect_stdout(io.StringIO()):
            errors = project.build()
        warnings = [_describe(e) for e in errors]
        generated = sum(len(c.endpoints) for c in data.endpoint_collections_by_tag.values())
        if warnings and not allow_warnings:
            raise GenerationError("\n".join(["the generator reported:", *warnings]))
        metadata = {
            "spec_sha256": specfile.sha256(spec_path),
            "operations_generated": generated,
            "warnings": warnings,
            "overlay_notes": notes,
        }
        (config.output_path / "spec_rules.json").write_text(strict, encoding="utf-8")
        (config.output_path / "generation.json").write_text(
            json.dumps(metadata, indent=2, ensure_ascii=False)
        )
        if destination.exists():
            shutil.rmtree(destination)
        shutil.copytree(config.output_path, destination)
    return Result(spec=spec, overlay_notes=notes, warnings=warnings, operations_generated=generated)


class _Project(Project):
    """The generator's project, plus the operation registry written from its parsed view of the API."""

    spec: dict[str, Any]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._promises: dict[str, dict[str, promises.Promise]] = {}
        self.env.globals.update(
            field_promise=self._field_promise,
            field_type=lambda model, prop: promises.annotation(prop, self._field_promise(model, prop)),
            converts=promises.converts,
            fast_load=readers.fast_load,
            model_read=readers.model_read,
            tolerant_dump=readers.tolerant_dump,
        )

    def _field_promise(self, model: Any, prop: Any) -> promises.Promise | None:
        """What the spec promised about one field of a model (None: nothing recorded)."""
        key = str(model.class_info.name)
        if key not in self._promises:
            self._promises[key] = promises.promises(self.spec, model)
        return self._promises[key].get(promises.text(prop.name))

    def _build_models(self) -> None:
        # Every model keeps unknown keys in `additional_properties`; a JSON field of that very name (HH has
        # one) would clash with it, so such a field gets the generator's own prefix for unusable names.
        for model in self.openapi.models:
            for prop in [*(model.required_properties or ()), *(model.optional_properties or ())]:
                if prop.python_name == "additional_properties":
                    prop.python_name = strings.PythonIdentifier(
                        f"{self.config.field_prefix}additional_properties", ""
                    )
        super()._build_models()

    def _build_api(self) -> None:
        # Not the generator's endpoint modules, Client and errors: hh_async builds every request from the
        # registry (hh_async.wire), so they would be code nothing runs.
        entries = registry.entries(self.spec, self.openapi)
        (self.package_dir / "registry.py").write_text(registry.render(entries), encoding="utf-8")
        (self.package_dir / "facade.py").write_text(facade.render(self.spec, self.openapi), encoding="utf-8")
