"""``FakeHH``: the fake server running for real, with uvicorn on 127.0.0.1 and a free port.

    async with FakeHH(vacancies=5000, faults=Faults(rate=0.2)) as server:
        async with HHClient(user_agent="test", base_url=server.url) as hh: ...

The server runs in a thread of its own (with its own event loop), so tests under asyncio and trio alike
talk to it over a real socket, and a blocking test can use it too (``with FakeHH() as server``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Self

from .app import FakeHHApp, InjectedDrop
from .dataset import Dataset
from .etag import ETagMiddleware
from .faults import Faults
from .oauth import Clock, OAuthServer
from .served import Served, ServedApp
from .webhooks import DeliveryPolicy

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"


class _QuietDrops(logging.Filter):
    """uvicorn logs an app's exception with a traceback; a drop we injected is not worth one."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedDrop))


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


class FakeHH(Served):
    def __init__(
        self,
        *,
        vacancies: int = 10_000,
        seed: int = 0,
        spacing: float = 60.0,
        faults: Faults | None = None,
        clients: Mapping[str, str] | None = None,
        access_ttl: float = 1_209_600,
        host: str = "127.0.0.1",
        port: int = 0,
        webhooks: DeliveryPolicy | None = None,
    ) -> None:
        self.clock = Clock()
        """Advance it to expire tokens: ``server.clock.advance(access_ttl)``."""
        self.oauth = OAuthServer(clients or {CLIENT_ID: CLIENT_SECRET}, self.clock, access_ttl)
        self.faults = faults or Faults()
        self.dataset = Dataset(vacancies, seed, spacing=spacing)
        self.app = FakeHHApp(self.dataset, self.oauth, self.faults)
        if webhooks is not None:  # how it delivers webhooks: duplicates, losses, order, time scale
            self.app.webhooks.configure(webhooks)
        self.etags = ETagMiddleware(self.app)
        """HH's ETag/304 on its dictionaries: ``etags.sent`` lists what went out, ``etags.touch(path)``
        changes a resource."""
        self._bind = (host, port)
        self._served: ServedApp | None = None
        self.url = ""

    def start(self) -> Self:
        self.etags.app = self.app  # what serves now: a test may have wrapped the app in the meantime
        served = ServedApp(self.etags, host=self._bind[0], port=self._bind[1], lifespan="on", name="fake-hh")
        self._served = served.start()
        self.url = served.url
        self.app.base_url = self.url  # before anyone can know the URL, so before any request
        return self

    def stop(self) -> None:
        if self._served is not None:
            self._served.stop()
            self._served = None
