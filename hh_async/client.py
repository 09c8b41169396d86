"""``HHClient``: every HH operation as an awaitable method, over one httpx.AsyncClient.

    async with HHClient(user_agent="MyApp/1.0 (me@example.com)", auth=AppToken(...)) as hh:
        page = await hh.get_vacancies(text="python", area=["1", "2"])
        raw = await hh.with_raw_response.get_vacancy(vacancy_id="1")   # status, headers, content, parsed

The methods come from the generated facade (``_raw/facade.py``); this module sends what they describe:
``User-Agent``/``HH-User-Agent`` on every request, default ``host``/``locale`` (overridable per call), the
transport stack (throttle under retries), typed errors for non-2xx answers, and parsing into the models.
"""

from __future__ import annotations

import contextlib
import copy
import enum
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

import httpx

from ._raw.facade import Operations, RawOperations
from ._raw.models.host import Host
from ._raw.types import Response
from .buffered_transport import BufferedTransport, read_whole
from .cache.storage import CacheStorage
from .cache.transport import with_cache
from .drift import DriftMonitor
from .errors import DecodeError, HHError, error_from_response, request_id
from .events import Events, Hook, debug_from_environment
from .jsonlib import loads
from .operations import Operation, registry
from .retry import RetryPolicy, RetryTransport
from .shapes import fitting
from .throttle import Throttle, ThrottleBackend, ThrottleTransport
from .wire import Parts, build, plain, primitive, query_string

if TYPE_CHECKING:
    from ._raw.facade import GetVacanciesItem
    from .auth import TokenPost
    from .pagination import Cursor, Page, Paginator
    from .search_all import Progress, VacancySweep

T = TypeVar("T")
DEFAULT_BASE_URL = "https://api.hh.ru"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class _Keep(enum.Enum):
    """``with_options``' default for ``auth``: keep the parent's (None means anonymous)."""

    KEEP = enum.auto()


def default_transport(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """aiohttp's pool under httpx when ``hh-async[fast]`` is installed (a fraction of httpx's CPU per
    request, see ``benchmarks/client_cpu.py``); httpx's own transport otherwise."""
    try:
        from .aiohttp_transport import AiohttpTransport
    except ImportError:
        return httpx.AsyncHTTPTransport(limits=limits)  # made cancel-safe by cancel_safe()
    return AiohttpTransport(limits=limits)


_ENCODED = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")
"""A path and query httpx would keep as they are: only characters it leaves alone, escapes whole."""
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
"""httpx gives these a ``Content-Length: 0`` when they carry no body: built its way."""
_EMPTY = httpx.ByteStream(b"")


def _read_already(request: httpx.Request) -> None:
    """``request.read()`` for a request whose stream is ``_EMPTY``: its content set as reading sets it,
    without the ``isinstance(stream, typing.Iterable)`` check (a slow protocol check, 1.4 us) that
    ``read()`` and ``aread()`` start with. Another httpx, whose requests keep it elsewhere, reads."""
    if _CONTENT_SETTABLE:
        request._content = b""
    else:
        request.read()


def _content_settable() -> bool:
    """Whether this httpx takes a request's content as ``_read_already`` sets it (checked once)."""
    try:
        probe = httpx.Request("GET", "https://api.hh.ru/", stream=_EMPTY)
        probe._content = b""
        return probe.content == probe.read() == b"" and probe.stream is _EMPTY
    except Exception:
        return False


_CONTENT_SETTABLE = _content_settable()


def url_maker(base: httpx.URL) -> Callable[[str], httpx.URL]:
    """``make(path_and_query)``: the URL of a path on ``base`` whose path and query are escaped already
    (what ``wire`` builds), without parsing the whole URL again (httpx's ``urlparse`` was a quarter of
    the client's CPU per call); anything else, ``/./`` or ``/../`` included, is parsed as httpx parses
    it. Checked once against httpx's parse: another httpx whose URLs differ inside gets the parse."""
    prefix = str(base).rstrip("/")

    def parse(target: str) -> httpx.URL:
        return httpx.URL(prefix + target)

    reference: Any = getattr(base, "_uri_reference", None)
    try:
        kind = type(reference)
        head = (reference.scheme, reference.userinfo, reference.host, reference.port)
        base_path = str(reference.path).rstrip("/")
    except AttributeError:
        return parse
    fullmatch = _ENCODED.fullmatch

    def made(target: str) -> httpx.URL:
        if fullmatch(target) is None or "/." in target or not target.startswith("/"):
            return parse(target)
        path, question, query = target.partition("?")
        url = object.__new__(httpx.URL)
        url._uri_reference = kind(*head, base_path + path, query if question else None, None)
        return url

    for probe in ("/vacancies/1", "/vacancies?text=a%20b&area=1&area=2", "/me?", "/a:b@c;d=e"):
        try:
            ours = made(probe)
        except Exception:  # another httpx's insides
            return parse
        theirs = parse(probe)
        if (str(ours), ours.raw_path, ours.path, ours.query) != (
            str(theirs),
            theirs.raw_path,
            theirs.path,
            theirs.query,
        ) or ours != theirs:
            return parse
    return made


def cancel_safe(transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
    """The transport as the stack needs it: answers whole and safe from asyncio's native cancellation
    (``buffered_transport``); ours already are, anything else (httpx's own, a test double) gets wrapped."""
    return transport if getattr(transport, "reads_whole_bodies", False) else BufferedTransport(transport)


class HHClient(Operations):
    """An asyncio (and trio) client of the HH API. Use it as an async context manager, or call aclose()."""

    def __init__(
        self,
        *,
        user_agent: str,
        auth: httpx.Auth | None = None,
        host: str | Host | None = None,
        locale: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        limits: httpx.Limits | None = None,
        retry: RetryPolicy | None = None,
        throttle: ThrottleBackend | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        drift: DriftMonitor | None = None,
        event_hooks: Mapping[str, Sequence[Hook]] | None = None,
        cache: bool | CacheStorage = True,
    ) -> None:
        """
        Args:
            user_agent: ``MyApp/1.0 (contact@example.com)``: HH answers 400 to requests without one.
            auth: ``StaticToken``, ``AppToken``, ``UserToken`` or any httpx.Auth; None for anonymous calls.
                ``AppToken``/``UserToken`` without a ``token_url`` get their tokens from ``<base_url>/token``
                through this client (its User-Agent and throttle, never retried).
            host, locale: sent with every operation that takes them, unless a call passes its own.
            retry: retry policy (None: the default one); ``RetryPolicy(max_attempts=1)`` disables retries.
            throttle: pacing and concurrency shared by all its tasks (default: ``Throttle()``, 8 req/s, 20
                at once, in this process); ``RedisThrottle`` shares them with other processes.
            transport: the innermost transport (a test double, an ASGI app...); retry and throttle wrap it.
            http_client: an httpx.AsyncClient you configured yourself: used as is (its base_url, timeout,
                transport; no retries or throttle of ours, so those options are refused with it) and
                not closed by us.
            drift: a DriftMonitor to log what HH sends beyond the spec.
            event_hooks: callables per event kind (``request``, ``response``, ``retry``, ``slowdown``,
                ``throttle_wait``, ``token``, ``refresh``), each given an ``Event``: see ``hh_async.events``.
            cache: HTTP caching of what HH serves with an ETag or max-age (dictionaries, areas, roles):
                True (default) keeps answers in memory, a ``CacheStorage`` (``MemoryCacheStorage``,
                ``FileCacheStorage``, ``RedisCacheStorage``) keeps them there, False turns caching off.
                Per call, ``extra_headers={"Cache-Control": "no-cache"}`` revalidates, ``"no-store"``
                bypasses. See ``hh_async.cache``.
        """
        if not user_agent or not user_agent.strip():
            raise ValueError("user_agent is required by HH, e.g. 'MyApp/1.0 (me@example.com)'")
        self.host = host
        self.locale = locale
        self.drift = drift
        self._auth = auth
        self._auth_header = _one_header(auth)
        debug_from_environment()
        self._events = Events(event_hooks)
        headers = {"User-Agent": user_agent, "HH-User-Agent": user_agent}
        self._stack: RetryTransport | None = None
        self._top: httpx.AsyncBaseTransport | None = None  # the stack with the cache on top
        if http_client is not None:
            ignored = [
                name
                for name, given in (
                    ("retry", retry is not None),
                    ("throttle", throttle is not None),
                    ("transport", transport is not None),
                    ("limits", limits is not None),
                    ("base_url", base_url != DEFAULT_BASE_URL),
                    ("timeout", timeout is not DEFAULT_TIMEOUT),
                    ("cache", cache is not True),
                )
                if given
            ]
            if ignored:
                raise TypeError(
                    f"http_client= is used as it is (its own base_url, timeout and transport; no retries or "
                    f"throttle of ours), so {', '.join(ignored)} would be ignored: configure your client, "
                    f"or pass transport= instead of http_client= to keep them"
                )
            self._http = http_client
            self._owns_http = False
            self._headers = headers
        else:
            inner = cancel_safe(transport or default_transport(limits or httpx.Limits(max_connections=100)))
            self.throttle: ThrottleBackend = throttle or Throttle()
            self._throttled = ThrottleTransport(inner, self.throttle)
            self._stack = RetryTransport(self._throttled, retry)
            # Above retries and throttle: a fresh hit costs neither; a revalidation goes through both.
            self._top = with_cache(self._stack, cache)
            # Kept for its configuration (and for callers who want it); our calls go to the stack directly.
            self._http = httpx.AsyncClient(
                base_url=base_url, headers=headers, timeout=timeout, transport=self._top
            )
            self._owns_http = True
            self._headers = {}
        self._base_url = str(self._http.base_url).rstrip("/")
        self._url = url_maker(self._http.base_url)
        # Built once and copied per request (httpx copies a Headers object without re-validating it).
        self._request_headers = httpx.Headers(
            [("Host", self._http.base_url.netloc.decode("ascii")), *self._http.headers.multi_items()]
        )
        self._life = _Life()  # shared with the with_options views: closing the client closes them all
        self._view = False
        self._retry: RetryPolicy | None = None
        self._timeout: httpx.Timeout | float | None = None
        self._timeout_dict = self._http.timeout.as_dict()
        self.token_channel = _TokenChannel(self, user_agent)
        """How this client's auth sends token requests (``hh_async.auth.TokenChannel``); also for
        ``exchange_code(..., client=hh)``."""
        self.with_raw_response = _RawClient(self)

    def with_options(
        self,
        *,
        auth: httpx.Auth | _Keep | None = _Keep.KEEP,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | float | None = None,
    ) -> HHClient:
        """A view of this client whose calls use another auth, retry policy or timeout, over the same
        connections, throttle and (unless given) retry policy; it closes nothing. Cheap enough to make one
        per user per web request: ``await hh.with_options(auth=user_auth).get_me()``; ``auth=None`` makes
        an anonymous view, and options not given are kept from this client (or view)."""
        if retry is not None and self._stack is None:
            raise TypeError("retry= needs hh-async's own stack: this client sends through your http_client")
        if auth is not _Keep.KEEP and auth is not None and not isinstance(auth, httpx.Auth):
            raise TypeError(
                f"auth= takes an httpx.Auth (StaticToken, UserToken, AppToken...) or None, "
                f"not {type(auth).__name__}"
            )
        view = copy.copy(self)
        view._view = True  # closing the view must not close the shared connections
        if auth is not _Keep.KEEP:
            view._auth = auth
            view._auth_header = _one_header(auth)
        view._retry = retry or self._retry
        view._timeout = timeout if timeout is not None else self._timeout
        if timeout is not None:
            view._timeout_dict = httpx.Timeout(timeout).as_dict()
        view.with_raw_response = _RawClient(view)
        return view

    @property
    def base_url(self) -> str:
        """Where this client's HH is (``https://api.hh.ru`` unless given)."""
        return self._base_url

    @property
    def retry_policy(self) -> RetryPolicy | None:
        """The policy this client's (or view's) calls retry by; None over your own ``http_client``."""
        if self._stack is None:
            return None
        return self._retry or self._stack.policy

    @overload
    def paginate(
        self,
        method: Callable[..., Awaitable[Page[T]]],
        /,
        *,
        per_page: int | None = None,
        prefetch: int = 4,
        **filters: Any,
    ) -> Paginator[T]: ...

    @overload
    def paginate(
        self,
        method: str | None = None,
        /,
        *,
        cursor: Cursor | None = None,
        per_page: int | None = None,
        prefetch: int = 4,
        **filters: Any,
    ) -> Paginator[Any]: ...

    def paginate(
        self,
        method: Callable[..., Awaitable[Any]] | str | None = None,
        /,
        *,
        cursor: Cursor | None = None,
        per_page: int | None = None,
        prefetch: int = 4,
        **filters: Any,
    ) -> Paginator[Any]:
        """Every item of a paged list: ``async for v in hh.paginate(hh.get_vacancies, text="python")``.

        ``per_page`` defaults to the operation's maximum; ``prefetch`` pages are fetched ahead. Resume a read
        with ``hh.paginate(cursor=saved_cursor)``. See ``hh_async.pagination``.
        """
        from .pagination import Paginator, resolve  # on first use: importing the client stays cheap

        if cursor is not None:
            if method is not None or filters or per_page is not None:
                raise TypeError("a cursor carries its operation, filters and per_page: pass it alone")
            return Paginator.resume(self, cursor, prefetch=prefetch)
        if method is None:
            raise TypeError("paginate() needs a method (hh.get_vacancies), an operationId or a cursor")
        owner = getattr(method, "__self__", None)
        client = owner if isinstance(owner, HHClient) else self  # a with_options() view keeps its options
        return Paginator(client, resolve(method), filters, per_page=per_page, prefetch=prefetch)

    def search_all_vacancies(
        self,
        *,
        progress: Callable[[Progress], object] | None = None,
        per_page: int = 100,
        prefetch: int = 4,
        resume: Mapping[str, Any] | str | None = None,
        seen: set[int | str] | None = None,
        **filters: Any,
    ) -> VacancySweep[GetVacanciesItem]:
        """Every vacancy the search finds, past HH's 2000 cap, each once (``async for``): the date range
        is cut into slices under the cap. ``progress`` gets a ``Progress`` as slices and pages complete;
        ``sweep.state`` and ``resume=``/``seen=`` continue an interrupted sweep. See ``hh_async.search_all``.
        """
        from .search_all import VacancySweep  # on first use: importing the client stays cheap

        return VacancySweep(
            self, filters, progress=progress, per_page=per_page, prefetch=prefetch, resume=resume, seen=seen
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        form: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Any path of HH's API, with this client's auth, retries, throttle and typed errors: for what the
        spec does not describe. ``await hh.request("GET", "/vacancies/1/new_thing", params={...})``.

        Returns the decoded JSON (None for an empty body); an error answer raises as a method's would.
        ``hh.with_raw_response.request(...)`` gives the status, headers and bytes instead.
        """
        response = await self._send_parts(_parts(method, path, params, json, form, headers))
        if response.status_code >= 400:
            raise error_from_response(response)
        return _json(response, f"{method.upper()} {path}") if response.content else None

    async def __aenter__(self) -> HHClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close this client's connections: its transport stack, with a ``transport`` you passed in (as
        httpx does). An ``http_client`` you passed in stays open for you to close; auth objects hold
        nothing to close. A ``with_options`` view closes nothing: the connections are its parent's."""
        if self._view:
            return
        self._life.closed = True
        if self._owns_http:
            await self._http.aclose()

    def __repr__(self) -> str:
        return f"HHClient(base_url={self._base_url!r}, auth={self._auth!r})"

    # --- what the facade's methods call -----------------------------------------------------------------

    async def _call(
        self,
        operation_id: str,
        arguments: dict[str, Any],
        extra_query: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Any:
        operation = registry()[operation_id]
        response = await self._send(operation, arguments, extra_query, extra_headers, extra_body)
        if response.status_code >= 400:
            raise error_from_response(response)
        return self._parse(operation, response)

    async def _send(
        self,
        operation: Operation,
        arguments: dict[str, Any],
        extra_query: Mapping[str, Any] | None,
        extra_headers: Mapping[str, str] | None,
        extra_body: Mapping[str, Any] | None,
    ) -> httpx.Response:
        for name, default in (("host", self.host), ("locale", self.locale)):
            if default is not None and name in arguments and not arguments[name]:
                arguments[name] = default
        parts = build(
            operation, arguments, extra_query=extra_query, extra_headers=extra_headers, extra_body=extra_body
        )
        return await self._send_parts(parts)

    async def _send_parts(self, parts: Parts) -> httpx.Response:
        if self._life.closed:
            raise RuntimeError("this HHClient is closed: open a new one (async with HHClient(...) as hh)")
        if self._stack is None:  # the caller's own httpx.AsyncClient, with all its machinery
            return await self._send_through_http_client(parts)
        headers = self._request_headers
        if parts.headers:
            headers = httpx.Headers(headers)
            headers.update(parts.headers)
        extensions: dict[str, Any] = {"timeout": self._timeout_dict, "hh_events": self._events}
        if self._retry is not None:
            extensions["hh_retry"] = self._retry
        if self._auth is not None:
            extensions["hh_token_channel"] = self.token_channel
        url = self._url(parts.path)
        if (
            parts.json is None
            and parts.form is None
            and parts.files is None
            and parts.method not in _BODY_METHODS
        ):
            # No body: what httpx would encode is an empty stream and no header, so it is given as such.
            request = httpx.Request(parts.method, url, headers=headers, extensions=extensions, stream=_EMPTY)
            _read_already(request)
        else:
            request = httpx.Request(
                parts.method,
                url,
                headers=headers,
                extensions=extensions,
                json=parts.json,
                data=parts.form,
                files=parts.files,
            )
        return await self._dispatch(request)

    async def _send_through_http_client(self, parts: Parts) -> httpx.Response:
        headers = {**self._headers, **parts.headers}
        extensions: dict[str, Any] = {"hh_token_channel": self.token_channel}
        if self._retry is not None:
            extensions["hh_retry"] = self._retry
        timeout = self._timeout if self._timeout is not None else httpx.USE_CLIENT_DEFAULT
        request = self._http.build_request(
            parts.method,
            parts.path,
            headers=headers,
            extensions=extensions,
            timeout=timeout,
            json=parts.json,
            data=parts.form,
            files=parts.files,
        )
        auth = self._auth if self._auth is not None else httpx.USE_CLIENT_DEFAULT
        return await self._http.send(request, auth=auth)

    async def _dispatch(self, request: httpx.Request) -> httpx.Response:
        """What httpx.AsyncClient.send does for our own stack, minus what HH's API never uses (cookies,
        redirects, event hooks), whose CPU per request ``benchmarks/client_cpu.py`` shows."""
        auth = self._auth
        if auth is None:
            return await self._exchange(request)
        if self._auth_header is not None:  # a StaticToken's whole flow: one header, one exchange
            request.headers["Authorization"] = self._auth_header
            return await self._exchange(request)
        flow = auth.async_auth_flow(request)
        try:
            request = await flow.__anext__()
            while True:
                response = await self._exchange(request)
                try:
                    request = await flow.asend(response)
                except StopAsyncIteration:
                    return response
                await response.aclose()
        finally:
            await flow.aclose()

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        assert self._top is not None
        events = self._events
        timed = events.wanted("response")
        if events.wanted("request"):
            events.emit("request", "sending", request=request)
        started = time.perf_counter() if timed else 0.0
        response = await self._top.handle_async_request(request)
        response.request = request
        if isinstance(response.stream, httpx.ByteStream):  # whole already: read without the async path
            read_whole(response)
        else:
            try:
                await response.aread()
            finally:
                await response.aclose()
        if timed:
            elapsed = time.perf_counter() - started
            message = f"HTTP {response.status_code} in {elapsed * 1000:.0f} ms"
            events.emit("response", message, request=request, response=response, elapsed=elapsed)
        return response

    def _parse(self, operation: Operation, response: httpx.Response) -> Any:
        status = response.status_code
        if 300 <= status < 400:  # HH's API does not redirect; a proxy or a wrong base_url does
            location = response.headers.get("location", "nowhere")
            raise HHError(
                f"{operation.operation_id}: HTTP {status} redirecting to {location}, not an answer of the "
                f"API (redirects are not followed: check base_url)",
                status=status,
                request_id=request_id(response.headers),
                response=response,
            )
        model = operation.responses.get(str(status))
        if not response.content:
            if model is None or status == 204:
                return None  # documented as bodiless (204, or a 201 with only a Location)
            raise DecodeError(
                f"{operation.operation_id}: HTTP {status} with an empty body where a "
                f"{_name(model)} was promised",
                field="$",
                status=status,
                request_id=request_id(response.headers),
                response=response,
            )
        data = _json(response, operation.operation_id)
        if model is None:
            return data
        # Several documented shapes (a tuple, from the registry): the one a body's keys fit (hh_async.shapes).
        shapes: tuple[Any, ...] | None = model if isinstance(model, tuple) else None
        cls: Any = shapes[0] if shapes else model
        try:
            if isinstance(data, list):
                parsed: Any = [
                    (fitting(shapes, item) if shapes else cls).from_dict(item)
                    if isinstance(item, dict)
                    else item
                    for item in data
                ]
            elif isinstance(data, dict):
                if shapes:
                    cls = fitting(shapes, data)
                parsed = cls.from_dict(data)
            else:
                raise TypeError(f"expected a JSON object, got {type(data).__name__}")
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise DecodeError(
                f"{operation.operation_id}: the body does not fit {cls.__name__}: {exc}",
                field="$",
                status=response.status_code,
                request_id=request_id(response.headers),
                response=response,
            ) from None
        if self.drift is not None:
            self.drift.observe(parsed)
        return parsed


def _one_header(auth: httpx.Auth | None) -> str | None:
    """The ``Authorization`` value of an auth whose whole flow is setting it (``StaticToken`` itself, not
    a subclass that may change the flow), else None."""
    if auth is None or not type(auth).__dict__.get("one_header_flow", False):
        return None
    header = getattr(auth, "header", None)
    return header if isinstance(header, str) else None


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return loads(response.content)
    except ValueError as exc:
        raise DecodeError(
            f"{what}: HH's body is not valid JSON ({exc})",
            status=response.status_code,
            request_id=request_id(response.headers),
            response=response,
        ) from None


def _parts(
    method: str,
    path: str,
    params: Mapping[str, Any] | None,
    json: Any,
    form: Mapping[str, Any] | None,
    headers: Mapping[str, str] | None,
) -> Parts:
    """A request for a path the spec may not describe (``HHClient.request``)."""
    if not path.startswith("/"):  # an absolute URL would take the user's token to another host
        raise ValueError(
            f"pass a path of the API such as '/vacancies', not {path!r}: the token goes only to base_url"
        )
    if params:
        path += ("&" if "?" in path else "?") + query_string(params)
    form_fields = {k: primitive(plain(v)) for k, v in form.items()} if form else None
    return Parts(method.upper(), path, dict(headers or {}), json=plain(json), form=form_fields)


def _name(model: Any) -> str:
    return " or ".join(m.__name__ for m in model) if isinstance(model, tuple) else str(model.__name__)


class _RawClient(RawOperations):
    """``hh.with_raw_response.<operation>(...)``: the status, headers and bytes too; errors are not raised."""

    def __init__(self, client: HHClient) -> None:
        self._client = client

    async def _call(
        self,
        operation_id: str,
        arguments: dict[str, Any],
        extra_query: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Any:
        operation = registry()[operation_id]
        response = await self._client._send(operation, arguments, extra_query, extra_headers, extra_body)
        ok = 200 <= response.status_code < 300 and response.content
        return _raw(response, self._client._parse(operation, response) if ok else None)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        form: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> RawResponse[Any]:
        """``HHClient.request`` returning the raw response; an error answer is returned, not raised."""
        response = await self._client._send_parts(_parts(method, path, params, json, form, headers))
        ok = 200 <= response.status_code < 300 and response.content
        return _raw(response, _json(response, f"{method.upper()} {path}") if ok else None)


class _Life:
    closed = False


class _TokenChannel:
    """Token requests of this client's auth (``hh_async.auth.TokenChannel``): to ``<base_url>/token``
    with the application's User-Agent, through the throttle but not the retries (a refresh token is
    single-use), with ``request``/``response`` events like any call. Over a caller's ``http_client``,
    through that client as it is."""

    def __init__(self, client: HHClient, user_agent: str) -> None:
        self.token_url = (client._base_url or DEFAULT_BASE_URL) + "/token"
        self.user_agent = user_agent
        self._client = client

    def turn(self) -> contextlib.AbstractAsyncContextManager[TokenPost]:
        return self._throttled() if self._client._stack is not None else self._through_http_client()

    @contextlib.asynccontextmanager
    async def _throttled(self) -> AsyncIterator[TokenPost]:
        events = self._client._events
        async with self._client._throttled.turn(events) as send:

            async def post(request: httpx.Request) -> httpx.Response:
                if self._client._life.closed:
                    raise RuntimeError("this HHClient is closed: its auth cannot request tokens through it")
                request.extensions["hh_events"] = events
                timed = events.wanted("response")
                if events.wanted("request"):
                    events.emit("request", "sending a token request", request=request)
                started = time.perf_counter() if timed else 0.0
                response = await send(request)
                response.request = request
                if timed:
                    elapsed = time.perf_counter() - started
                    message = f"HTTP {response.status_code} in {elapsed * 1000:.0f} ms"
                    events.emit("response", message, request=request, response=response, elapsed=elapsed)
                return response

            yield post

    @contextlib.asynccontextmanager
    async def _through_http_client(self) -> AsyncIterator[TokenPost]:
        http = self._client._http

        async def post(request: httpx.Request) -> httpx.Response:
            return await http.send(request, auth=None)  # the grant is the auth: not the client's own

        yield post

    def __repr__(self) -> str:
        return f"TokenChannel(token_url={self.token_url!r})"


class RawResponse(Response[T]):
    """What ``with_raw_response`` returns: ``status_code``, ``headers``, ``content``, ``parsed``, and HH's
    ``request_id`` (its support asks for it)."""

    @property
    def request_id(self) -> str | None:
        return request_id(self.headers)


def _raw(response: httpx.Response, parsed: Any) -> RawResponse[Any]:
    return RawResponse(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=parsed,
    )


__all__ = ["HHClient"]
