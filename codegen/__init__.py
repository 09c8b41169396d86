"""The codegen pipeline that turns HeadHunter's published OpenAPI spec into ``hh_async._raw``."""
