"""What the cache keeps of an answer, and HTTP's rules for when it may be kept and reused.

HH sends ``ETag: W/"..."`` and ``Cache-Control: max-age=1200`` (with ``Expires``) on most dictionaries and
answers ``If-None-Match`` with a bodiless 304. An answer is worth keeping when it is a 200 to a GET that
carries a validator (``ETag``) or a freshness lifetime (``max-age``, ``Expires``) and no ``no-store``;
everything else (searches, vacancies, errors) passes by untouched. An entry is an immutable value replaced
whole, so a failed or cancelled exchange can never leave half of one behind.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import attrs
import httpx

from ..jsonlib import loads

# Not kept: what describes the bytes on the wire (the body is kept decoded) or belongs to one connection.
_UNSTORED = frozenset(
    {"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive", "set-cookie"}
)


def directives(value: str | None) -> dict[str, str | None]:
    """``Cache-Control`` as ``{directive: argument or None}``, names lower-cased, quotes removed. A directive
    given twice (two header lines arrive joined) counts as first given (RFC 9111, section 4.2.1)."""
    found: dict[str, str | None] = {}
    if not value:
        return found
    for part in value.split(","):
        name, sep, argument = part.partition("=")
        name = name.strip().lower()
        if name:
            found.setdefault(name, argument.strip().strip('"') if sep else None)
    return found


def seconds(value: str | None) -> int | None:
    """A whole number of seconds (``max-age``, ``Age``), or None for anything else."""
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def lifetime(headers: Mapping[str, str], now: float) -> float:
    """Seconds an answer received at ``now`` stays fresh: ``max-age`` less ``Age``, else ``Expires`` less
    ``Date`` (or less ``now`` without a ``Date``); 0 (revalidate every time) with ``no-cache`` or without
    either. RFC 9111, section 4.2.1. ``headers``: httpx's, or a dict with lower-case names."""
    control = directives(headers.get("cache-control"))
    if "no-cache" in control:
        return 0.0
    max_age = seconds(control.get("max-age"))
    if max_age is not None:
        return float(max(0, max_age - (seconds(headers.get("age")) or 0)))
    expires = _date(headers.get("expires"))
    if expires is None:
        return 0.0  # an unreadable Expires means "already expired" (RFC 9111, section 5.3)
    date = _date(headers.get("date"))
    return max(0.0, expires - (date if date is not None else now))


def _digest(value: str | None) -> str | None:
    # What a Vary'd request header is remembered by: its value may be a token (Vary: Authorization).
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


def _finite(value: object) -> float | None:
    return float(value) if type(value) in (int, float) and math.isfinite(value) else None  # type: ignore[arg-type]


def _pairs(value: object, values_may_be_none: bool) -> bool:
    """Is ``value`` a list of [name, value] string pairs, as ``to_bytes`` writes them?"""
    return isinstance(value, list) and all(
        isinstance(pair, list)
        and len(pair) == 2
        and isinstance(pair[0], str)
        and (isinstance(pair[1], str) or (values_may_be_none and pair[1] is None))
        for pair in value
    )


@attrs.frozen
class CacheEntry:
    """One kept answer: its status, headers and decoded body, validator, and when it stops being fresh."""

    status: int
    headers: tuple[tuple[str, str], ...]
    """Lower-case names; names and values as the bytes came, read as latin-1 (any byte round-trips)."""
    content: bytes = attrs.field(repr=lambda content: f"<{len(content)} bytes>")
    etag: str | None
    fresh_until: float
    """On the cache's clock (``time.time`` by default, so that hosts sharing a store agree)."""
    vary: tuple[tuple[str, str | None], ...] = ()
    """The request headers the answer's ``Vary`` names, with a SHA-256 of the values they had (None: the
    request had no such header): a Vary'd ``Authorization`` must not be kept as it is."""
    received: float = 0.0
    """When the answer (or the 304 that refreshed it) came, on the same clock: a request's own
    ``max-age`` asks how old the entry may be."""
    _wire: httpx.Headers = attrs.field(init=False, eq=False, repr=False)
    """``headers`` as httpx's, built once: every hit copies them instead of parsing them again."""

    def __attrs_post_init__(self) -> None:
        wire = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in self.headers]
        wire.append((b"content-length", str(len(self.content)).encode()))
        object.__setattr__(self, "_wire", httpx.Headers(wire))

    def is_fresh(self, now: float, max_age: int | None = None, min_fresh: int = 0) -> bool:
        """Fresh at ``now``, and as the request's own ``max-age`` and ``min-fresh`` ask if it sent them."""
        if max_age is not None and self.age(now) > max_age:
            return False
        return now + min_fresh < self.fresh_until

    def age(self, now: float) -> float:
        """Seconds since the origin made the answer: the ``Age`` it came with plus the time kept here."""
        came_with = seconds(dict(self.headers).get("age")) or 0
        return max(0.0, now - self.received) + max(0, came_with)

    def matches(self, request: httpx.Request) -> bool:
        """Was this answer chosen by the same values of the headers its ``Vary`` names?"""
        return all(_digest(request.headers.get(name)) == value for name, value in self.vary)

    def response(self, request: httpx.Request, how: str) -> httpx.Response:
        """The kept answer as a new response; ``extensions["hh_cache"]`` says ``hit`` or ``revalidated``."""
        # A stream, not content=: httpx would encode and read the body again (12 us for 100 KB).
        return httpx.Response(
            self.status,
            headers=self._wire,
            stream=httpx.ByteStream(self.content),
            request=request,
            extensions={"hh_cache": how},
        )

    def refreshed(self, not_modified: httpx.Response, now: float) -> CacheEntry:
        """This entry after a 304: the 304's headers replace the kept ones (RFC 9111, section 4.3.4) and
        the freshness is counted again from now: the kept ``Age`` (and ``Date``) described the first answer,
        not this one."""
        merged = {name: value for name, value in self.headers if name not in ("age", "date")}
        merged.update(_stored(not_modified.headers))
        return attrs.evolve(
            self,
            headers=tuple(merged.items()),
            etag=merged.get("etag", self.etag),
            fresh_until=now + lifetime(merged, now),
            received=now,
        )

    def to_bytes(self) -> bytes:
        """A self-contained record for a shared store: a JSON line, then the body. No pickle: a store
        others can write to must not be able to run code here. The body's length and CRC-32 go with it: a
        write cut short (a crash, a full disk) or a body changed since is found out on reading."""
        head = {
            "status": self.status,
            "headers": self.headers,
            "etag": self.etag,
            "fresh_until": self.fresh_until,
            "vary": self.vary,
            "received": self.received,
            "length": len(self.content),
            "crc32": zlib.crc32(self.content),
        }
        return json.dumps(head, separators=(",", ":")).encode() + b"\n" + self.content

    @classmethod
    def from_bytes(cls, data: bytes) -> CacheEntry:
        """The inverse of ``to_bytes``; ValueError for anything else: a record this version did not write
        whole (another version's, a damaged one) is as good as absent, never served."""
        head, sep, content = data.partition(b"\n")
        if not sep:
            raise ValueError("not a cache entry: no header line")
        try:
            fields = json.loads(head)
        except (ValueError, RecursionError):
            raise ValueError("not a cache entry: its header line is not JSON") from None
        if not isinstance(fields, dict):
            raise ValueError("not a cache entry: its header line is not an object")
        headers, vary, etag = fields.get("headers"), fields.get("vary"), fields.get("etag")
        when, received = _finite(fields.get("fresh_until")), _finite(fields.get("received"))
        if (
            fields.get("status") != 200
            or when is None
            or received is None
            or not (etag is None or isinstance(etag, str))
            or not _pairs(headers, values_may_be_none=False)
            or not _pairs(vary, values_may_be_none=True)
            or any(name != name.lower() or name in _UNSTORED for name, _ in headers)  # type: ignore[union-attr]
        ):
            raise ValueError("not a cache entry this version writes")
        if fields.get("length") != len(content) or fields.get("crc32") != zlib.crc32(content):
            raise ValueError("not a whole cache entry: its body was cut short or changed")
        try:
            kept_headers: Any = tuple(map(tuple, headers))  # type: ignore[arg-type]
            kept_vary: Any = tuple(map(tuple, vary))  # type: ignore[arg-type]
            return cls(200, kept_headers, content, etag, when, kept_vary, received)
        except ValueError as exc:  # a header httpx refuses (a name or value beyond latin-1)
            raise ValueError(f"not a cache entry: {exc}") from None


_CACHING_HEADERS = frozenset({b"etag", b"cache-control", b"expires"})


def worth_reading(response: httpx.Response) -> bool:
    """Could this answer be kept? Decided from its status and headers alone, before its body is read, so
    that what cannot be kept (a search page) costs nothing more."""
    if response.status_code != 200:
        return False
    return any(name in _CACHING_HEADERS for _, name, _ in response.headers._list)  # names lower-cased


def _whole_json(content_type: str | None, content: bytes) -> bool:
    """Does a JSON answer decode? Paid once per answer kept (dictionaries, every 20 minutes or so)."""
    if content_type is None or "json" not in content_type:
        return True
    try:
        loads(content)
    except ValueError:
        return False
    return True


def entry_for(request: httpx.Request, response: httpx.Response, now: float) -> CacheEntry | None:
    """The entry to keep for a 200 whose body has been read, or None when it must not or need not be
    kept: ``no-store``, ``Vary: *``, a body shorter than announced or JSON that does not decode, or
    neither a validator nor a freshness lifetime (nothing to gain by keeping it)."""
    headers = response.headers
    if response.status_code != 200 or "no-store" in directives(headers.get("cache-control")):
        return None
    vary_names = [n.strip().lower() for n in headers.get("vary", "").split(",") if n.strip()]
    if "*" in vary_names:
        return None
    content = response.content
    announced = seconds(headers.get("content-length"))
    if "content-encoding" not in headers and announced is not None and announced != len(content):
        return None  # cut short somewhere below: never keep a truncated body
    if not _whole_json(headers.get("content-type"), content):
        return None  # cut short with a length to match (a proxy's doing): kept, it would fail every call
    etag = headers.get("etag")
    fresh_for = lifetime(headers, now)
    if etag is None and fresh_for <= 0:
        return None
    return CacheEntry(
        status=200,
        headers=tuple(_stored(headers).items()),
        content=content,
        etag=etag,
        fresh_until=now + fresh_for,
        vary=tuple((name, _digest(request.headers.get(name))) for name in vary_names),
        received=now,
    )


def _stored(headers: httpx.Headers) -> dict[str, str]:
    """What is kept of an answer's headers: names lower-cased, the bytes as they came read as latin-1
    (a UTF-8 value round-trips), those describing the wire or the connection left out. A name given
    twice is joined into one comma-separated value, as HTTP reads it (RFC 9110, section 5.3)."""
    stored: dict[str, str] = {}
    for name, value in headers.raw:
        lowered = name.lower().decode("latin-1")
        if lowered not in _UNSTORED:
            text = value.decode("latin-1")
            stored[lowered] = f"{stored[lowered]}, {text}" if lowered in stored else text
    return stored


__all__ = ["CacheEntry", "directives", "entry_for", "lifetime", "seconds", "worth_reading"]
