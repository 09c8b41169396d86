"""An employer web app on hh-async: HH login (state + PKCE), tokens per user in Redis, pages that call HH
for the logged-in user, and HH's webhooks, all of it safe under several uvicorn workers on several hosts.

    REDIS_URL=redis://127.0.0.1:6379/0 HH_CLIENT_ID=... HH_CLIENT_SECRET=... \\
    HH_REDIRECT_URI=http://127.0.0.1:8000/callback HH_USER_AGENT="MyApp/1.0 (me@example.com)" \\
    uvicorn --app-dir examples/webapp --factory app:create_app --workers 4

Against the offline fake HH instead of hh.ru: ``python examples/webapp/serve_fake.py`` (see README).

One ``HHClient`` per worker process serves every user: each request takes a per-user view
(``hh.with_options(auth=...)``, microseconds) over the worker's one connection pool; the request rate to HH
is shared by all workers through Redis, and so is each user's token pair, refreshed by exactly one worker
when it expires (``RedisTokenStore``: a lock that expires if its holder dies, a compare-and-set save).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import redis.asyncio as aioredis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from hh_async import HHClient
from hh_async.auth import AuthorizationRequest, authorization_request, exchange_code
from hh_async.errors import ReauthorizationRequired
from hh_async.redis_throttle import RedisThrottle
from hh_async.redis_tokens import RedisTokenStore
from hh_async.user_auths import UserAuths
from hh_async.webhooks import RedisEventQueue, WebhookEndpoint, WebhookEvent, Worker
from hh_async.webhooks.fastapi import webhook_router

log = logging.getLogger("webapp")
SESSION_COOKIE = "hh_session"
SESSION_TTL = 30 * 24 * 3600
LOGIN_TTL = 600  # seconds a login may take between /login and HH's redirect back


@dataclass(frozen=True)
class Settings:
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    user_agent: str
    redis_url: str = "redis://127.0.0.1:6379/0"
    base_url: str = "https://api.hh.ru"
    authorize_url: str | None = None  # None: the login page of the client's HH (hh.ru for HH's API)
    token_url: str | None = None  # None: the HHClient's <base_url>/token, where HH serves it
    rate: float = 8.0  # requests per second to HH, for all workers together (HH allows about 10 per IP)
    concurrency: int = 20  # requests to HH in flight at once, all workers together
    claim_idle: float = 60.0  # seconds before another worker takes over the events of one that died
    prefix: str = "webapp"

    @classmethod
    def from_environment(cls) -> Settings:
        missing = [
            name
            for name in ("HH_CLIENT_ID", "HH_CLIENT_SECRET", "HH_REDIRECT_URI", "HH_USER_AGENT")
            if not os.environ.get(name)
        ]
        if missing:
            raise RuntimeError(f"set {', '.join(missing)} (see examples/webapp/app.py)")
        env = os.environ
        return cls(
            client_id=env["HH_CLIENT_ID"],
            client_secret=env["HH_CLIENT_SECRET"],
            redirect_uri=env["HH_REDIRECT_URI"],
            user_agent=env["HH_USER_AGENT"],
            redis_url=env.get("REDIS_URL", cls.redis_url),
            base_url=env.get("HH_BASE_URL", cls.base_url),
            authorize_url=env.get("HH_AUTHORIZE_URL") or None,
            token_url=env.get("HH_TOKEN_URL") or None,
            rate=float(env.get("HH_RATE", cls.rate)),
            concurrency=int(env.get("HH_CONCURRENCY", cls.concurrency)),
            claim_idle=float(env.get("WEBAPP_CLAIM_IDLE", cls.claim_idle)),
            prefix=env.get("WEBAPP_PREFIX", cls.prefix),
        )


async def handle_event(event: WebhookEvent) -> None:
    """What the app does with an HH event, after HH got its answer: here, log it (a real app fetches what
    changed, for the user). An exception here is retried, then the event goes to the dead-letter stream."""
    log.info("HH event %s %s for user %s", event.id, event.action_type, event.user_id)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app (``uvicorn --factory app:create_app``); settings from the environment unless given."""
    settings = settings or Settings.from_environment()
    # A blocking pool: under a burst, a Redis call waits for a free connection instead of failing with
    # "Too many connections" (redis-py's plain pool raises once its 100 connections are busy).
    pool = aioredis.BlockingConnectionPool.from_url(settings.redis_url, max_connections=64, timeout=20)
    redis = aioredis.Redis(connection_pool=pool)  # connects on first use, in the worker's event loop
    queue = RedisEventQueue(redis, settings.prefix)

    def store_for(user_id: str) -> RedisTokenStore:
        """Where a user's token pair lives: one Redis key per user, with its refresh lock beside it."""
        return RedisTokenStore.for_user(redis, user_id, prefix=f"{settings.prefix}:tokens")

    def record_handled(pipe: Any, event: WebhookEvent) -> None:
        """Counted in the same transaction as the event's acknowledgement: each event once, even when a
        worker dies as its handler returns (what the app's own bookkeeping should do the same way)."""
        pipe.hincrby(f"{settings.prefix}:handled", event.id, 1)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        throttle = RedisThrottle(
            redis,
            key=f"{settings.prefix}:throttle",
            rate=settings.rate or None,
            concurrency=settings.concurrency,
        )
        async with (
            HHClient(user_agent=settings.user_agent, base_url=settings.base_url, throttle=throttle) as hh,
            anyio.create_task_group() as tasks,
        ):
            app.state.hh, app.state.redis = hh, redis
            app.state.users = UserAuths(
                settings.client_id,
                settings.client_secret,
                store_for,
                token_url=settings.token_url,  # None: through the worker's HHClient (its UA and throttle)
            )
            worker = Worker(
                queue,
                handle_event,
                concurrency=16,
                claim_idle=settings.claim_idle,
                on_done=record_handled,
            )
            tasks.start_soon(worker.run)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
        await redis.aclose()

    app = FastAPI(lifespan=lifespan)
    # HH POSTs events here; the answer comes once the event is in the Redis stream (well within 2 s),
    # and the workers' Worker tasks handle it afterwards, each event once.
    app.include_router(webhook_router("/webhooks/hh", WebhookEndpoint(queue)))

    async def session_user(request: Request) -> str | None:
        session = request.cookies.get(SESSION_COOKIE)
        if not session:
            return None
        user = await request.app.state.redis.get(f"{settings.prefix}:session:{session}")
        return user.decode() if user is not None else None

    @app.get("/login")
    async def login(request: Request) -> Response:
        login = authorization_request(
            settings.client_id,
            settings.redirect_uri,
            authorize_url=settings.authorize_url,
            client=request.app.state.hh,
        )
        kept = {"verifier": login.code_verifier, "redirect_uri": login.redirect_uri}
        await request.app.state.redis.set(
            f"{settings.prefix}:login:{login.state}", json.dumps(kept), ex=LOGIN_TTL
        )
        return RedirectResponse(login.url, status_code=302)

    @app.get("/callback")
    async def callback(request: Request, code: str = "", state: str = "") -> Response:
        redis: aioredis.Redis = request.app.state.redis
        kept = await redis.getdel(f"{settings.prefix}:login:{state}") if state else None
        if kept is None or not code:
            return JSONResponse({"error": "unknown or expired login: start again at /login"}, status_code=400)
        login = json.loads(kept)
        pending = AuthorizationRequest("", state, login["verifier"], login["redirect_uri"])
        auth = await exchange_code(
            pending,
            code,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            token_url=settings.token_url,
            client=request.app.state.hh,  # the code exchange goes through the app's client, like any call
        )
        hh: HHClient = request.app.state.hh
        me = await hh.with_options(auth=auth).get_current_user_info()
        user_id = str(me.to_dict()["id"])
        await store_for(user_id).save(await auth.current())
        session = secrets.token_urlsafe(32)
        await redis.set(f"{settings.prefix}:session:{session}", user_id, ex=SESSION_TTL)
        response = RedirectResponse("/", status_code=302)
        response.set_cookie(SESSION_COOKIE, session, max_age=SESSION_TTL, httponly=True, samesite="lax")
        return response

    @app.get("/api/me")
    async def me(request: Request) -> Response:
        """The logged-in user's HH profile, fetched for them (their token, refreshed when it expired)."""
        user_id = await session_user(request)
        if user_id is None:
            return JSONResponse({"error": "log in at /login"}, status_code=401)
        hh: HHClient = request.app.state.hh
        users: UserAuths = request.app.state.users
        try:
            profile = await hh.with_options(auth=users[user_id]).get_current_user_info()
        except ReauthorizationRequired:
            return JSONResponse({"error": "HH ended this login: log in again at /login"}, status_code=401)
        return JSONResponse({"user": user_id, "hh": profile.to_dict()})

    @app.get("/")
    async def home(request: Request) -> Response:
        if await session_user(request) is None:
            return RedirectResponse("/login", status_code=302)
        return await me(request)

    return app
