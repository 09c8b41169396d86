"""``AiohttpTransport``: httpx's API on aiohttp's connection pool (``pip install 'hh-async[fast]'``).

httpx's own pool (httpcore) spends most of a scraper's CPU at high concurrency: 20-28x aiohttp's CPU per
small request at 100 connections (DESIGN §5, ``benchmarks/client_cpu.py``). This transport keeps everything
above it httpx (requests, responses, auth flows, the retry and throttle wrappers) and moves the sockets to
aiohttp. Bodies are read whole inside the transport (HH's answers are JSON of at most a few hundred KB), so
the response it returns is already complete: no per-chunk async iteration on the way up.

Its timeouts are httpx's (``pool``, ``connect``, ``read``), kept for all requests in flight by one clock
(``aiohttp_timeouts``) rather than by aiohttp's timers per request and per chunk.

aiohttp runs on asyncio only; under another event loop (trio) the transport hands requests to httpx's own
transport, so one client object works on both.
"""

from __future__ import annotations

import asyncio
import threading
import urllib.request
from typing import Any, NamedTuple

import httpx
import sniffio
import yarl
from multidict import CIMultiDict, CIMultiDictProxy

try:
    import aiohttp
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError("AiohttpTransport needs aiohttp: pip install 'hh-async[fast]'") from exc

from .aiohttp_timeouts import RequestClock, WatchingConnector, let_cancel_scopes_act, timeout_for

DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=100, keepalive_expiry=5.0)


class AiohttpTransport(httpx.AsyncBaseTransport):
    reads_whole_bodies = True
    """Answers come whole, and aiohttp is at home with asyncio's native cancellation (see
    ``buffered_transport``); under trio, where nothing cancels natively, httpx's transport streams."""

    def __init__(
        self,
        *,
        limits: httpx.Limits = DEFAULT_LIMITS,
        verify: bool | str = True,
        trust_env: bool = True,
    ) -> None:
        """
        Args:
            limits: ``max_connections`` (None: no limit) and ``keepalive_expiry`` are honoured.
            verify: TLS verification as httpx understands it (True, False, or a CA bundle path).
            trust_env: take proxies from ``HTTPS_PROXY``/``NO_PROXY`` and friends, as httpx does.
        """
        self._limits = limits
        self._ssl = httpx.create_ssl_context(verify=verify) if verify else False
        # Read once: aiohttp's own trust_env looks the environment up in a thread on every request.
        self._env_proxies = urllib.request.getproxies_environment() if trust_env else {}
        self._proxy_for: dict[tuple[str, str], str | None] = {}
        self._session: aiohttp.ClientSession | None = None  # its connector holds the clock of its loop
        self._fallback: httpx.AsyncHTTPTransport | None = None
        self._timeouts: dict[tuple[Any, ...], _Timeouts] = {}
        # A client sends the same few header sets and URLs again and again: each is converted once.
        self._sent_headers: dict[tuple[Any, ...], _Headers] = {}
        self._urls: dict[Any, yarl.URL] = {}

    def __repr__(self) -> str:
        return f"AiohttpTransport(max_connections={self._limits.max_connections})"

    def _asyncio_loop(self) -> asyncio.AbstractEventLoop | None:
        """The asyncio loop this request runs on; None under trio (or whatever else sniffio would name).
        Asked without ``asyncio.get_running_loop()`` when the session's loop is the one running in this
        thread (one thread runs one loop at a time): on CPython 3.11 each such call, sniffio's included,
        is a ``getpid()`` system call, which on a virtual machine cost a small call 5% of its time."""
        named = sniffio.thread_local.name or sniffio.current_async_library_cvar.get()
        if named is not None and named != "asyncio":
            return None
        if self._session is not None:
            loop = self._session._loop
            if getattr(loop, "_thread_id", None) == threading.get_ident():
                return loop
        try:
            return asyncio.get_running_loop()
        except RuntimeError:  # no asyncio loop: another library sniffio knows by asking it (curio)
            return None

    def _session_here(self, loop: asyncio.AbstractEventLoop) -> tuple[aiohttp.ClientSession, RequestClock]:
        session = self._session
        if session is None or session.closed or session._loop is not loop:
            # A session belongs to one event loop; a client reused under a new loop gets a new one. The
            # old session and its clock are left to their loop: requests in flight there keep their
            # timeouts. A session and its clock are one object, read once (another thread may be here).
            clock = RequestClock(loop)
            connector = WatchingConnector(
                clock,
                limit=self._limits.max_connections or 0,
                limit_per_host=0,
                keepalive_timeout=self._limits.keepalive_expiry or 5.0,
                ssl=self._ssl,
                ttl_dns_cache=300,
            )
            clock.enabled = connector.counts_bytes
            session = self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,  # httpx decodes Content-Encoding itself, as for its own transport
                cookie_jar=aiohttp.DummyCookieJar(),  # cookies are httpx's business
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return session, _clock_of(session)

    @property
    def _clock(self) -> RequestClock | None:
        """The clock of the current session's loop."""
        return None if self._session is None else _clock_of(self._session)

    def _proxy(self, url: httpx.URL) -> str | None:
        key = (url.scheme, url.host)
        if key not in self._proxy_for:
            proxy = self._env_proxies.get(url.scheme) or self._env_proxies.get("all")
            if proxy and urllib.request.proxy_bypass(url.host):
                proxy = None
            self._proxy_for[key] = proxy
        return self._proxy_for[key]

    def _timeouts_of(self, request: httpx.Request) -> _Timeouts:
        given = request.extensions.get("timeout") or {}
        key = (given.get("connect"), given.get("read"), given.get("pool"))
        timeouts = self._timeouts.get(key)
        if timeouts is None:
            connect, read, pool = key
            connection = None if connect is None or pool is None else connect + pool
            timeouts = self._timeouts[key] = _Timeouts(
                connection,
                read,
                # A request with a body: aiohttp's own timers, which start the read once the body is out.
                aiohttp.ClientTimeout(total=None, connect=connection, sock_connect=connect, sock_read=read),
                # One without: the clock keeps the rest; aiohttp bounds each connection attempt only.
                aiohttp.ClientTimeout(total=None, sock_connect=connect),
            )
        return timeouts

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        loop = self._asyncio_loop()
        if loop is None:
            if self._fallback is None:
                self._fallback = httpx.AsyncHTTPTransport(limits=self._limits, verify=self._ssl or False)
            return await self._fallback.handle_async_request(request)
        session, clock = self._session_here(loop)
        body = await request.aread() or None  # in memory already for httpx's own requests: no copy
        sent, skipped = self._headers(request.headers, body is not None)
        timeouts = self._timeouts_of(request)
        watch = clock.watch(timeouts.connection, timeouts.read) if body is None and clock.enabled else None
        try:
            async with session.request(
                request.method,
                self._url(request.url),
                headers=sent,
                skip_auto_headers=skipped,
                data=body,
                allow_redirects=False,
                timeout=timeouts.unwatched if watch is None else timeouts.watched,
                proxy=self._proxy(request.url) if self._env_proxies else None,
            ) as answer:
                content = await answer.read()
                if watch is not None:
                    watch.finished = True
                status, headers, reason = answer.status, answer.raw_headers, answer.reason
                version = answer.version
        except BaseException as exc:
            timeout = None if watch is None else timeout_for(watch, exc, request)
            if timeout is not None:
                await let_cancel_scopes_act()
                raise timeout from None  # the cancellation that stopped it was the clock's own
            error = _translated(exc, request)
            if error is None:
                raise
            raise error from exc
        finally:
            if watch is not None:
                if watch.expired is not None:
                    watch.take_back()  # in case aiohttp swallowed the cancellation and finished
                clock.forget(watch)
        http_version = _HTTP_VERSIONS.get(version) or _http_version(version)
        return httpx.Response(
            status,
            headers=_response_headers(headers),
            stream=httpx.ByteStream(content),  # whole already: wrappers above need not hold anything open
            request=request,
            extensions={"http_version": http_version, "reason_phrase": (reason or "").encode()},
        )

    def _headers(self, headers: httpx.Headers, body: bool) -> _Headers:
        """The request's headers for aiohttp, and the automatic headers it must not add: aiohttp adds
        User-Agent, Accept... to a request that lacks them, while httpx's requests say what they mean.
        Named only when missing (skipping costs aiohttp a sort and two header copies per request), and
        worked out once per header set: a client's differ only by token and the odd per-call header."""
        key = (*headers.raw, body)
        known = self._sent_headers.get(key)
        if known is None:
            if len(self._sent_headers) >= _MEMO_SIZE:  # a web app's users come and go: keep it small
                self._sent_headers.clear()
            sent = _header_pairs(headers)
            # Immutable: aiohttp copies it into each request's own headers, and none can change it.
            known = CIMultiDictProxy(CIMultiDict(sent)), _missing_auto_headers(sent, body)
            self._sent_headers[key] = known
        return known

    def _url(self, url: httpx.URL) -> yarl.URL:
        """``_yarl_url``, remembered for the URLs asked again (a dictionary, a page, a poll)."""
        key = getattr(url, "_uri_reference", None)  # httpx's parsed parts: a tuple, cheap to hash
        known = self._urls.get(key) if key is not None else None
        if known is None:
            known = _yarl_url(url)
            if key is not None:
                if len(self._urls) >= _MEMO_SIZE:
                    self._urls.clear()
                self._urls[key] = known
        return known

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            # Another loop's session (and clock) is that loop's; a closed one has let its connector go.
            if not session.closed and session._loop is _running_loop():
                _clock_of(session).close()
                await session.close()
        if self._fallback is not None:
            await self._fallback.aclose()


_MEMO_SIZE = 512


class _Timeouts(NamedTuple):
    connection: float | None
    """Seconds to get a connection: httpx's ``pool`` + ``connect`` (None: no limit)."""
    read: float | None
    unwatched: aiohttp.ClientTimeout
    watched: aiohttp.ClientTimeout


_Headers = tuple["CIMultiDictProxy[str]", tuple[str, ...] | None]
_HTTP_VERSIONS: dict[Any, bytes] = {None: b"HTTP/1.1"}


def _http_version(version: Any) -> bytes:
    _HTTP_VERSIONS[version] = text = f"HTTP/{version.major}.{version.minor}".encode()
    return text


def _response_headers(
    raw: tuple[tuple[bytes, bytes], ...],
) -> httpx.Headers | tuple[tuple[bytes, bytes], ...]:
    """aiohttp's raw headers (bytes, as they came) as httpx keeps them, without its per-header checks,
    which bytes pass anyway; raw for httpx to convert if its insides differ from what this expects."""
    if not _KEEPS_LIST:
        return raw
    headers = httpx.Headers()
    headers._list = [(name, name.lower(), value) for name, value in raw]
    return headers


def _keeps_list() -> bool:
    """Whether this httpx keeps headers as ``_list`` of (name, lower-cased name, value), as
    ``_response_headers`` writes them (checked once)."""
    try:
        raw = ((b"Content-Type", b"application/json"), (b"X-Two", b"1"), (b"x-two", b"2"))
        theirs = httpx.Headers(raw)
        return theirs._list == [(n, n.lower(), v) for n, v in raw] and theirs.get_list("x-two") == ["1", "2"]
    except Exception:
        return False


_KEEPS_LIST = _keeps_list()


def _header_pairs(headers: httpx.Headers) -> list[tuple[str, str]]:
    """``headers.multi_items()``, with the encoding looked up once rather than twice per header."""
    encoding = headers.encoding
    return [(key.lower().decode(encoding), value.decode(encoding)) for key, value in headers.raw]


_AUTO_HEADERS = frozenset({"user-agent", "accept-encoding", "accept"})
_AUTO_HEADERS_WITH_BODY = _AUTO_HEADERS | {"content-type"}


def _missing_auto_headers(headers: list[tuple[str, str]], body: bool) -> tuple[str, ...] | None:
    """What aiohttp would add to ``headers``: the auto headers they lack, and a body's ``Content-Type``."""
    auto = _AUTO_HEADERS_WITH_BODY if body else _AUTO_HEADERS
    names = {name for name, _ in headers}
    return None if names >= auto else tuple(auto - names)


def _yarl_url(url: httpx.URL) -> yarl.URL:
    """The same URL for aiohttp, escaped already (httpx quoted it): built from httpx's parsed parts rather
    than printed and parsed again; a URL with credentials or an IPv6 host goes the long way."""
    parts = getattr(url, "_uri_reference", None)
    try:
        if parts is not None and not parts.userinfo and ":" not in parts.host and not parts.fragment:
            return yarl.URL.build(
                scheme=parts.scheme,
                host=parts.host,
                port=parts.port,
                path=parts.path,
                query_string=parts.query or "",
                encoded=True,
            )
    except (AttributeError, TypeError, ValueError):  # another httpx's insides: the long way
        pass
    return yarl.URL(str(url), encoded=True)


def _clock_of(session: aiohttp.ClientSession) -> RequestClock:
    connector = session.connector
    assert isinstance(connector, WatchingConnector)
    return connector.clock


def _translated(exc: BaseException, request: httpx.Request) -> httpx.TransportError | None:
    """aiohttp's error as httpx's transports raise it; None for what is not aiohttp's (a cancellation)."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(_describe(exc), request=request)
    if isinstance(exc, TimeoutError | aiohttp.SocketTimeoutError):
        return httpx.ReadTimeout(_describe(exc), request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(_describe(exc), request=request)
    if isinstance(
        exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientResponseError
    ):
        # Closed before or in the middle of the answer, or not HTTP: httpx reports a protocol error.
        return httpx.RemoteProtocolError(_describe(exc), request=request)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.UnsupportedProtocol(_describe(exc), request=request)
    if isinstance(exc, aiohttp.ClientError):
        return httpx.NetworkError(_describe(exc), request=request)
    return None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


__all__ = ["AiohttpTransport"]
