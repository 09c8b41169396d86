"""Authentication as ``httpx.Auth`` flows: a static token, HH's application token and the user token.

HH's rules (``../shared/hh-api-facts.md``) shape all of it:

- a user's refresh token works **once** and **only after** the access token expired: so refresh happens on
  ``403 oauth/token_expired`` or once ``expires_at`` has passed, never early, and it is *single-flight*: one
  refresh per token for all tasks, and for all processes sharing the store (the refresher holds
  ``store.exclusive()`` and re-reads the store first); everyone else waits and reuses the new pair, which is
  saved to the store before anyone uses it;
- HH spends the refresh token as it answers, so the token request and the save of its answer are shielded
  from the caller's cancellation (a request timeout, a cancelled task): they finish, bounded by
  ``token_timeout``, and the next call uses the saved pair. The auth's lock and ``store.exclusive()`` are
  released on every way out (cancelled while waiting or inside, an error inside);
- an ``invalid_grant`` answer ends in ``ReauthorizationRequired``, and HH is asked once: every task that
  waited for that refresh and every later call gets the same error without asking HH again, until the
  store holds another pair (the user logged in again, here or in another process);
- an application token lives forever, may be requested once per 5 minutes, and a new one revokes the old:
  so it is obtained once for all processes sharing the store (inside ``store.exclusive()``, after
  re-reading it), a token HH rejects makes the auth re-read the store before asking HH, and its issue time
  is saved with it so the 5 minutes are kept across processes too. Its request and save are shielded too,
  as is the code exchange of a login.

Where token requests go: to ``token_url`` when the auth was given one; else, used by an ``HHClient``, to
``<base_url>/token`` of that client (so a client pointed at another server, such as the fake, gets its
tokens there too); else to HH's ``https://api.hh.ru/token``. How they go: through ``token_client`` when
one is given (it stays the caller's); else through the client's ``TokenChannel`` (handed to the flow in
``request.extensions``): with the application's ``User-Agent``/``HH-User-Agent`` and through the client's
throttle (they count against HH's per-IP rate), waiting for a throttle turn before the shielded part
begins, so a caller cancelled while waiting leaves at once and nothing is spent; else through a
short-lived httpx client of their own. An auth holds no connection and needs no closing. Token requests
are POSTs and never retried: a refresh token is single-use, a second try could only burn it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

import anyio
import attrs
import httpx

from .cancellation import shielded
from .errors import (
    AppTokenTooEarlyError,
    HHError,
    ReauthorizationRequired,
    TokenExpiredError,
    TokenRevokedError,
    error_from_response,
    request_id,
)
from .events import NO_EVENTS, Events, events_of
from .facts import APP_TOKEN_INTERVAL
from .tokens import ConditionalTokenStore, MemoryTokenStore, TokenConflict, TokenPair, TokenStore

API_URL = "https://api.hh.ru"
TOKEN_URL = f"{API_URL}/token"
AUTHORIZE_URL = "https://hh.ru/oauth/authorize"
TOKEN_TIMEOUT = 30.0
"""Seconds a token request and the save of its answer may take (shielded from the caller's cancellation)."""

T = TypeVar("T")

TokenPost = Callable[[httpx.Request], Awaitable[httpx.Response]]
"""Sends one token request and returns its answer, read whole."""


class TokenChannel(Protocol):
    """What an ``HHClient`` lends its auth for token requests (``request.extensions["hh_token_channel"]``):
    where the token endpoint is, the application's User-Agent, and a throttle turn to send through."""

    @property
    def token_url(self) -> str:
        """``<base_url>/token`` of the client."""
        ...

    @property
    def user_agent(self) -> str: ...

    def turn(self) -> AbstractAsyncContextManager[TokenPost]:
        """Wait for a throttle place and turn (cancellable); inside, send one request, never retried."""
        ...


class _ClientWithBaseUrl(Protocol):
    """An ``HHClient`` (what ``authorization_request(client=...)`` needs of it)."""

    @property
    def base_url(self) -> str: ...


def authorize_url_for(base_url: str) -> str:
    """The login page of the HH whose API is at ``base_url``: hh.ru's for HH's own API, ``<base_url>/oauth/
    authorize`` for another (the fake HH, a staging server), which serves both from one place."""
    base = base_url.rstrip("/")
    return AUTHORIZE_URL if base == API_URL else f"{base}/oauth/authorize"


class _ClientWithChannel(Protocol):
    """An ``HHClient`` (what ``exchange_code(client=...)`` needs of it)."""

    @property
    def token_channel(self) -> TokenChannel: ...


def channel_of(request: httpx.Request) -> TokenChannel | None:
    channel = request.extensions.get("hh_token_channel")
    return channel if channel is not None and hasattr(channel, "turn") else None


class StaticToken(httpx.Auth):
    """A token you already have (a user's, or the application token shown at dev.hh.ru/admin)."""

    one_header_flow = True
    """Its flow sets ``header`` and sends once: ``HHClient`` does that itself, without running it (a
    subclass that changes the flow is run as a flow)."""

    def __init__(self, access_token: str) -> None:
        self._header = f"Bearer {access_token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = self._header  # one generator, not httpx's async one over the sync
        yield request

    @property
    def header(self) -> str:
        """The ``Authorization`` value it sends (``HHClient`` sets it without running the flow)."""
        return self._header

    def __repr__(self) -> str:
        return "StaticToken(***)"


async def _refusal(response: httpx.Response) -> HHError | None:
    """What HH says of the token in a 401/403, read by the one reader of error bodies (``errors``); the
    flow sees responses unread."""
    if response.status_code not in (401, 403):
        return None
    await response.aread()
    return error_from_response(response)


_SECRET_FIELDS = frozenset({"client_secret", "refresh_token", "code", "code_verifier"})


def _without(error: HHError, secrets: list[str]) -> HHError:
    for secret in secrets:
        error.message = error.message.replace(secret, "***")
    error.args = (error.message,)
    return error


_Send = Callable[[dict[str, str]], Awaitable[httpx.Response]]


class _TokenEndpoint:
    """Posts grants to HH's token endpoint; shared by the user and application token flows."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        token_url: str | None,
        client: httpx.AsyncClient | None,
        timeout: float = TOKEN_TIMEOUT,
        user_agent: str | None = None,
    ):
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_url = token_url
        """None: the using client's ``<base_url>/token``, or HH's outside a client."""
        self._client = client
        self.timeout = timeout
        self.user_agent = user_agent

    async def shielded(self, work: Callable[[_Send], Awaitable[T]], channel: TokenChannel | None) -> T:
        """A token request and the save of its answer: once HH answers, the old token is spent, so the
        caller's cancellation (anyio's, trio's or asyncio's native one) waits until the answer is saved.
        The wait for a throttle turn comes first and stays cancellable (nothing is spent yet); ``timeout``
        bounds the two together."""
        deadline = anyio.current_time() + self.timeout
        try:
            async with contextlib.AsyncExitStack() as stack:
                with anyio.fail_after(self.timeout):
                    send = await stack.enter_async_context(self._turn(channel))
                left = max(0.0, deadline - anyio.current_time())
                return await shielded(lambda: work(send), timeout=left)
        except TimeoutError:
            raise TimeoutError(f"the token request and save took longer than {self.timeout} s") from None

    @contextlib.asynccontextmanager
    async def _turn(self, channel: TokenChannel | None) -> AsyncIterator[_Send]:
        """How this grant goes: the URL, the User-Agent, and the way (see the module's docstring)."""
        url = self.token_url or (channel.token_url if channel is not None else TOKEN_URL)
        user_agent = self.user_agent or (channel.user_agent if channel is not None else None)
        headers = {"User-Agent": user_agent, "HH-User-Agent": user_agent} if user_agent else {}
        timeout = httpx.Timeout(self.timeout)
        if self._client is not None:
            client = self._client

            async def through_theirs(data: dict[str, str]) -> httpx.Response:
                return await client.post(url, data=data, headers=headers)

            yield through_theirs
        elif channel is not None:
            async with channel.turn() as post:

                async def through_client(data: dict[str, str]) -> httpx.Response:
                    extensions = {"timeout": timeout.as_dict()}
                    request = httpx.Request("POST", url, headers=headers, data=data, extensions=extensions)
                    return await post(request)

                yield through_client
        else:

            async def through_own(data: dict[str, str]) -> httpx.Response:
                # A grant is rare (a refresh every two weeks): a client of its own, closed right after.
                async with httpx.AsyncClient(timeout=timeout) as client:
                    return await client.post(url, data=data, headers=headers)

            yield through_own

    async def grant(
        self, send: _Send, grant_type: str, **fields: str | None
    ) -> tuple[dict[str, Any], str | None]:
        """HH's answer to a grant, and the id HH gave that answer (for logs and its support)."""
        data = {"grant_type": grant_type, **{k: v for k, v in fields.items() if v is not None}}
        if grant_type != "refresh_token":
            data |= {"client_id": self.client_id, "client_secret": self._client_secret}
        response = await send(data)
        if response.status_code != 200:
            # A proxy's error page may echo the form back: its secrets stay out of the message.
            raise _without(error_from_response(response), [v for k, v in data.items() if k in _SECRET_FIELDS])
        try:
            body: dict[str, Any] = response.json()
            if not isinstance(body.get("access_token"), str):
                raise ValueError("no access_token")
        except (ValueError, AttributeError) as exc:
            raise HHError(f"the token endpoint answered 200 without a token ({exc})", status=200) from None
        return body, request_id(response.headers)


class _TokenAuth(httpx.Auth):
    """What the user and application token flows share: the store, the token endpoint, a lock, a clock."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        store: TokenStore | None = None,
        *,
        token_url: str | None = None,
        token_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        token_timeout: float = TOKEN_TIMEOUT,
        user_agent: str | None = None,
    ) -> None:
        """``token_url``: None follows the ``HHClient`` using the auth (``<base_url>/token``), HH's
        endpoint outside one. ``token_timeout``: seconds a token request and the save of its answer may
        take; they finish even when the caller is cancelled meanwhile, and this bounds how long that can
        delay it. ``user_agent``: for token requests made outside an ``HHClient`` (inside one, the client's
        is sent)."""
        self.store: TokenStore = store or MemoryTokenStore()
        self._endpoint = _TokenEndpoint(
            client_id, client_secret, token_url, token_client, token_timeout, user_agent
        )
        self._clock = clock
        self._pair: TokenPair | None = None
        self._lock = anyio.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self._endpoint.client_id!r}, store={self.store!r})"

    async def _keep(self, replacing: TokenPair | None, pair: TokenPair, events: Events) -> TokenPair:
        """Save ``pair`` in place of ``replacing`` and return the pair to use. A store whose lock can
        expire under a live holder saves by compare-and-set: if another process saved a newer pair while
        this one outlived its lock, that pair stays, and is the one used here too."""
        store = self.store
        if not isinstance(store, ConditionalTokenStore):
            await store.save(pair)
            return pair
        try:
            await store.replace(replacing, pair)
            return pair
        except TokenConflict:
            newer = await store.load()
            if newer is None:
                raise ReauthorizationRequired(
                    "the stored token pair was removed while it was being refreshed: log the user in again"
                ) from None
            events.emit("refresh", "another process saved a newer token pair meanwhile: using that one")
            return newer


class UserToken(_TokenAuth):
    """A user's token pair, refreshed by the rules above and persisted in ``store``."""

    refreshes = 0
    """Refresh requests this auth has sent (for monitoring, and tests)."""
    _refused: tuple[TokenPair, ReauthorizationRequired] | None = None
    """The pair HH refused to refresh, and how: every later call fails the same way without asking HH."""

    async def current(self) -> TokenPair:
        """The pair in use: loaded from the store on first use, and re-read after HH refused to refresh it
        (the user may have logged in again since)."""
        if self._pair is None or self._refused is not None:
            async with self._lock:
                if self._pair is None or self._refused is not None:
                    self._adopt(await self.store.load())
        if self._pair is None:
            raise ReauthorizationRequired("no user token yet: log the user in (authorization code flow)")
        return self._pair

    def _adopt(self, stored: TokenPair | None) -> None:
        """Use the stored pair, unless it is the one HH refused to refresh: then fail as HH did."""
        if self._refused is not None:
            refused, error = self._refused
            if stored is None or stored.access_token == refused.access_token:
                raise _same_error(error)
            self._refused = None
        self._pair = stored

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        pair = await self.current()
        if pair.expired(self._clock()):
            pair = await self.refresh(pair, events=events_of(request), channel=channel_of(request))
        request.headers["Authorization"] = f"Bearer {pair.access_token}"
        response = yield request
        refusal = await _refusal(response)
        if not isinstance(refusal, TokenExpiredError | TokenRevokedError):
            return
        if self._pair is not None and self._pair.access_token != pair.access_token:
            pair = self._pair  # refreshed while this request was in flight: HH refused the old token
        elif isinstance(refusal, TokenExpiredError):
            pair = await self.refresh(
                pair, expired=True, events=events_of(request), channel=channel_of(request)
            )
        else:
            return  # revoked or unknown: only a new login helps, and the caller gets the error
        request.headers["Authorization"] = f"Bearer {pair.access_token}"
        yield request

    async def refresh(
        self,
        stale: TokenPair,
        *,
        expired: bool = False,
        events: Events = NO_EVENTS,
        channel: TokenChannel | None = None,
    ) -> TokenPair:
        """Replace ``stale`` by a fresh pair, once for all waiting tasks (and processes sharing the store);
        ``channel``: the client the refresh goes through (see the module's docstring)."""
        async with self._lock:
            if self._refused is not None:  # HH refused while this task waited: no second attempt
                self._adopt(await self.store.load())  # ...unless the user logged in again meanwhile
            current = self._pair
            if current is not None and (
                current.access_token != stale.access_token  # another task refreshed while this one waited
                or (not expired and not current.expired(self._clock()))  # ...or learnt it is not expired yet
            ):
                return current
            if isinstance(self.store, ConditionalTokenStore):  # a shared store: its lock costs round trips
                stored = await self.store.load()
                if stored is not None and stored.access_token != stale.access_token:
                    self._pair = stored  # another process refreshed already: no need to queue for its lock
                    return stored
            async with self.store.exclusive():
                stored = await self.store.load()
                if stored is not None and stored.access_token != stale.access_token:
                    self._pair = stored  # another process refreshed and saved
                    return stored

                async def refresh_and_keep(send: _Send) -> TokenPair:
                    self._pair = await self._refresh(send, stale, expired, events)
                    return self._pair

                try:
                    return await self._endpoint.shielded(refresh_and_keep, channel)
                except ReauthorizationRequired as exc:
                    if exc.description != "token not expired":  # the refresh token is dead, not early
                        newer = await self.store.load()
                        if newer is not None and newer.access_token != stale.access_token:
                            # Another process refreshed (its lock outlived by ours, or ours by it): use it.
                            self._pair = newer
                            return newer
                        self._refused = (stale, exc)
                    raise

    async def _refresh(self, send: _Send, stale: TokenPair, expired: bool, events: Events) -> TokenPair:
        if not stale.refresh_token:
            raise ReauthorizationRequired("the access token expired and there is no refresh token")
        self.refreshes += 1
        try:
            body, answer_id = await self._endpoint.grant(
                send, "refresh_token", refresh_token=stale.refresh_token
            )
        except ReauthorizationRequired as exc:
            if exc.description == "token not expired" and not expired:
                # Our clock ran ahead of HH's: the token still works. Use it a little longer.
                later = attrs.evolve(stale, expires_at=self._clock() + 60)
                message = "HH says the access token has not expired yet; the refresh is retried later"
                events.emit("refresh", message, request_id=exc.request_id)
                return await self._keep(stale, later, events)
            events.emit("refresh", f"HH refused the refresh: {exc.message}", request_id=exc.request_id)
            raise
        pair = TokenPair.from_response(body, self._clock())
        events.emit("refresh", f"refreshed the user token; {pair}", request_id=answer_id)
        return await self._keep(stale, pair, events)  # saved before anyone uses it: the old one is spent


def _same_error(error: ReauthorizationRequired) -> ReauthorizationRequired:
    """A new exception like HH's refusal (one object raised in many tasks would mix their tracebacks)."""
    return ReauthorizationRequired(
        error.message,
        status=error.status,
        request_id=error.request_id,
        oauth_error=error.oauth_error,
        description=error.description,
    )


class AppToken(_TokenAuth):
    """HH's application token (client_credentials): obtained on first use, kept in ``store``, shared by
    every process using that store, and never requested within 5 minutes of the last one (HH revokes the
    old token and refuses a new one that soon)."""

    requests = 0
    """Token requests this auth has sent."""
    _requested_at: float | None = None

    async def token(self, *, channel: TokenChannel | None = None) -> TokenPair:
        """The application token in use: the stored one, or a new one requested now (through
        ``channel``, an ``HHClient``'s ``token_channel``, when given)."""
        return await self._token(channel=channel)

    async def _token(
        self,
        replacing: TokenPair | None = None,
        events: Events = NO_EVENTS,
        channel: TokenChannel | None = None,
    ) -> TokenPair:
        """The token, or one other than ``replacing`` (which HH refused): from memory, else from the store
        (another process may have obtained one), else from HH."""

        def usable(pair: TokenPair | None) -> bool:
            return pair is not None and (replacing is None or pair.access_token != replacing.access_token)

        pair = self._pair
        if replacing is None and pair is not None:
            return pair  # the common case: no lock (taking it costs a trip through the event loop)
        async with self._lock:
            if self._pair is not None and usable(self._pair):
                return self._pair
            async with self.store.exclusive():
                stored = await self.store.load()
                if stored is not None and usable(stored):
                    self._pair = stored
                    return stored
                now = self._clock()
                saved_at = stored.obtained_at if stored is not None else None  # another process's request
                issued = [t for t in (self._requested_at, saved_at) if t is not None]
                if issued and now - max(issued) < APP_TOKEN_INTERVAL:
                    wait = APP_TOKEN_INTERVAL - (now - max(issued))
                    raise AppTokenTooEarlyError(
                        f"an application token was requested less than 5 minutes ago; "
                        f"the next may be requested in {wait:.0f} s"
                    )

                async def obtain_and_keep(send: _Send) -> TokenPair:
                    # Counted from here: a caller that gave up waiting for a throttle turn sent nothing.
                    self._requested_at = sent = self._clock()
                    self.requests += 1
                    body, answer_id = await self._endpoint.grant(send, "client_credentials")
                    self._pair = TokenPair.from_response(body, sent)
                    events.emit("token", "obtained an application token", request_id=answer_id)
                    self._pair = await self._keep(stored, self._pair, events)
                    return self._pair

                # HH revokes the old one as it answers
                return await self._endpoint.shielded(obtain_and_keep, channel)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        pair = await self._token(events=events_of(request), channel=channel_of(request))
        request.headers["Authorization"] = f"Bearer {pair.access_token}"
        response = yield request
        if isinstance(await _refusal(response), TokenRevokedError):
            # Revoked: someone obtained a new one, maybe in the store.
            pair = await self._token(replacing=pair, events=events_of(request), channel=channel_of(request))
            request.headers["Authorization"] = f"Bearer {pair.access_token}"
            yield request


# --- the authorization code flow (with PKCE) ---------------------------------------------------------------


@attrs.frozen(repr=False)
class AuthorizationRequest:
    """Where to send the user, and what to keep (in their session) until HH redirects back."""

    url: str
    state: str
    code_verifier: str | None
    redirect_uri: str | None

    def check_state(self, received: str | None) -> None:
        """Raise unless HH's redirect carries the ``state`` we sent (protects against CSRF)."""
        if received is None or not hmac.compare_digest(received, self.state):
            raise ValueError("the OAuth state does not match the one sent: not our login, or a forged one")

    def __repr__(self) -> str:
        return f"AuthorizationRequest(url={self.url!r})"


def authorization_request(
    client_id: str,
    redirect_uri: str | None = None,
    *,
    pkce: bool = True,
    state: str | None = None,
    role: str | None = None,
    force_login: bool = False,
    skip_choose_account: bool = False,
    authorize_url: str | None = None,
    client: _ClientWithBaseUrl | None = None,
) -> AuthorizationRequest:
    """Build the authorize URL: ``state`` always, PKCE S256 unless ``pkce=False``; ``role`` is
    ``applicant`` or ``employer``. The page is ``authorize_url`` if given, else the one of ``client``'s HH
    (``authorize_url_for(client.base_url)``: a fake or staging HH serves its own), else hh.ru's."""
    if authorize_url is None:
        authorize_url = authorize_url_for(client.base_url) if client is not None else AUTHORIZE_URL
    state = state or secrets.token_urlsafe(24)
    params: dict[str, str] = {"response_type": "code", "client_id": client_id, "state": state}
    if redirect_uri:
        params["redirect_uri"] = redirect_uri
    verifier = None
    if pkce:
        verifier = secrets.token_urlsafe(64)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        params["code_challenge"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        params["code_challenge_method"] = "S256"
    if role:
        params["role"] = role
    if force_login:
        params["force_login"] = "true"
    if skip_choose_account:
        params["skip_choose_account"] = "true"
    return AuthorizationRequest(f"{authorize_url}?{urlencode(params)}", state, verifier, redirect_uri)


async def exchange_code(
    request: AuthorizationRequest,
    code: str,
    *,
    client_id: str,
    client_secret: str,
    store: TokenStore | None = None,
    client: _ClientWithChannel | None = None,
    token_url: str | None = None,
    token_client: httpx.AsyncClient | None = None,
    clock: Callable[[], float] = time.time,
    token_timeout: float = TOKEN_TIMEOUT,
    user_agent: str | None = None,
) -> UserToken:
    """Trade the ``code`` from HH's redirect for a token pair, save it, and return the auth that uses it.

    With ``client`` (the app's ``HHClient``) the exchange goes to its ``<base_url>/token`` with its
    User-Agent, through its throttle; without, to ``token_url`` (HH's by default) with ``user_agent``
    (HH answers 400 to a request without one). The returned auth follows whichever client uses it,
    unless ``token_url`` was given."""
    endpoint = _TokenEndpoint(client_id, client_secret, token_url, token_client, token_timeout, user_agent)
    auth = UserToken(
        client_id,
        client_secret,
        store,
        token_url=token_url,
        token_client=token_client,
        clock=clock,
        token_timeout=token_timeout,
        user_agent=user_agent,
    )

    async def exchange_and_save(send: _Send) -> None:
        body, answer_id = await endpoint.grant(
            send,
            "authorization_code",
            code=code,
            redirect_uri=request.redirect_uri,
            code_verifier=request.code_verifier,
        )
        await auth.store.save(TokenPair.from_response(body, clock()))
        NO_EVENTS.emit("token", "obtained the user's token pair for a login code", request_id=answer_id)

    channel = client.token_channel if client is not None else None
    await endpoint.shielded(exchange_and_save, channel)  # the code is spent once HH answers: keep the pair
    return auth
