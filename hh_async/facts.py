"""HH's documented rules that the client and the fake HH both follow, each stated once.

Sources: HH's API documentation and spec, as collected in the project's API facts. What the spec itself
states per operation (``per_page`` limits, depth caps in its prose) is read from the spec by codegen into
the registry; this table is what HH documents elsewhere, and what the fake checks the registry against.
"""

from __future__ import annotations

APP_TOKEN_INTERVAL = 300.0
"""Seconds: HH issues an application token at most once per 5 minutes (and a new one revokes the old)."""

ACCESS_TOKEN_LIFETIME = 1_209_600.0
"""Seconds: a user's access token lives 14 days; its refresh token works once, only after that."""

SEARCH_DEPTH = 2000
"""A search hands out at most this many results: ``(page + 1) * per_page`` may not exceed it."""

MAX_PER_PAGE = 100
"""The most items a vacancy search page holds."""

DEPTH_CAPS = {
    "get-vacancies": SEARCH_DEPTH,
    "get-vacancies-similar-to-vacancy": SEARCH_DEPTH,
    "get-vacancies-related-to-vacancy": SEARCH_DEPTH,
    "search-for-resumes": SEARCH_DEPTH,
    "search-employer": 5000,
}
"""The depth caps HH documents for its paged lists, by operationId."""
