"""``UserAuths``: one ``UserToken`` per user per process, for a web app serving many users on one client.

    auths = UserAuths(CLIENT_ID, CLIENT_SECRET, lambda user: RedisTokenStore.for_user(redis, user))
    me = await hh.with_options(auth=auths[user_id]).get_me()   # per web request

A ``UserToken`` made afresh for every request would work (the store keeps the pair, its lock serializes
refreshes), but each request would read the store, and concurrent requests of one user would queue on
the store's lock (Redis round trips) instead of on the auth's own lock in memory. Kept per user, the pair
is read once and one refresh serves all of that user's requests in this process. The least recently used
users' auths are dropped past ``max_users`` (their pairs stay in the store).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

import httpx

from .auth import TOKEN_TIMEOUT, UserToken
from .tokens import TokenStore


class UserAuths:
    def __init__(
        self,
        client_id: str,
        client_secret: str,
        store_for: Callable[[str], TokenStore],
        *,
        max_users: int = 10_000,
        token_url: str | None = None,
        token_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        token_timeout: float = TOKEN_TIMEOUT,
        user_agent: str | None = None,
    ) -> None:
        """``store_for(user_id)`` makes the store of a user's pair; the other options go to every
        ``UserToken`` (see ``hh_async.auth``)."""
        if max_users < 1:
            raise ValueError(f"max_users must be at least 1, got {max_users!r}")
        self._client_id, self._client_secret = client_id, client_secret
        self._store_for = store_for
        self.max_users = max_users
        self._token_url, self._token_client = token_url, token_client
        self._clock, self._token_timeout = clock, token_timeout
        self._user_agent = user_agent
        self._auths: OrderedDict[str, UserToken] = OrderedDict()

    def __getitem__(self, user_id: str | int) -> UserToken:
        """The user's auth: the one already in use, or a new one over ``store_for(user_id)``."""
        key = str(user_id)
        auth = self._auths.get(key)
        if auth is not None:
            self._auths.move_to_end(key)
            return auth
        auth = UserToken(
            self._client_id,
            self._client_secret,
            self._store_for(key),
            token_url=self._token_url,
            token_client=self._token_client,
            clock=self._clock,
            token_timeout=self._token_timeout,
            user_agent=self._user_agent,
        )
        self._auths[key] = auth
        if len(self._auths) > self.max_users:
            self._auths.popitem(last=False)
        return auth

    def forget(self, user_id: str | int) -> None:
        """Drop the user's auth from this process (after a logout); the store is left as it is."""
        self._auths.pop(str(user_id), None)

    def __len__(self) -> int:
        return len(self._auths)

    def __repr__(self) -> str:
        return (
            f"UserAuths(client_id={self._client_id!r}, users={len(self._auths)}, max_users={self.max_users})"
        )


__all__ = ["UserAuths"]
