"""The codegen pipeline that turns HeadHunter's published OpenAPI spec into ``hh_async._raw``.

Its modules, in the order the spec goes through them (``python -m codegen``, in ``__main__``, runs them):

- ``specfile``: fetch, check and load ``openapi.yml``.
- ``overlay``: apply ``overlays/`` (OpenAPI Overlay 1.0), the few edits that name one place in the spec.
- ``strict_spec``: the overlaid spec as HH states it, for strict validation (``_raw/spec_rules.json``).
- ``normalize``: the rules, general rewrites that make the spec generator-safe and the models tolerant.
- ``generate``: runs the steps above and openapi-python-client (``config.yml``, ``templates/``) in-process.
- ``promises``: field types from what the spec promised (``x-hh-promise``), parsing from the tolerant schema;
  ``templates/model.py.jinja`` renders the lazy models with them (their base: ``templates/types.py.jinja``).
- ``registry``, ``facade``: ``_raw/registry.py``, ``_raw/facade.py``, from the generator's parsed view.
- ``report`` and ``diff``: how complete the generated client is; what a new spec version changes.

Helpers: ``walk`` finds its way through an OpenAPI document (operations, every schema, an object's
properties); ``facts`` reads what the registry needs from the spec (paging, ``per_page`` limits, depth cap);
``examples`` collects the spec's JSON examples; ``translit`` names a tag no overlay has named yet.
"""
