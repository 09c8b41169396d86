"""``FakeHH``: the fake server running for real, with uvicorn on 127.0.0.1 and a free port.

    async with FakeHH(vacancies=5000, faults=Faults(rate=0.2)) as server:
        async with HHClient(user_agent="test", base_url=server.url) as hh: ...

The server runs in a thread of its own (with its own event loop), so tests under asyncio and trio alike
talk to it over a real socket, and a blocking test can use it too (``with FakeHH() as server``).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Mapping
from types import TracebackType

from .app import FakeHHApp, InjectedDrop
from .dataset import Dataset
from .etag import ETagMiddleware
from .faults import Faults
from .oauth import Clock, OAuthServer
from .webhooks import DeliveryPolicy

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"


class _QuietDrops(logging.Filter):
    """uvicorn logs an app's exception with a traceback; a drop we injected is not worth one."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], InjectedDrop))


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


class FakeHH:
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
        self._thread: threading.Thread | None = None
        self._server: object = None
        self.url = ""

    def start(self) -> FakeHH:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
        sock.bind(self._bind)
        host, port = sock.getsockname()
        self.url = f"http://{host}:{port}"
        self.app.base_url = self.url
        self.etags.app = self.app  # what serves now: a test may have wrapped the app in the meantime
        config = uvicorn.Config(
            self.etags, log_level="warning", access_log=False, lifespan="on", loop="asyncio"
        )
        server = uvicorn.Server(config)
        started = threading.Event()

        def run() -> None:
            server.run(sockets=[sock])

        self._thread = threading.Thread(target=run, name="fake-hh", daemon=True)
        self._thread.start()
        while not server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the fake HH server did not start")
            started.wait(0.01)
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True  # type: ignore[attr-defined]
            self._thread.join(timeout=10)
            self._server = None

    def __enter__(self) -> FakeHH:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeHH:
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        import anyio.to_thread

        await anyio.to_thread.run_sync(self.stop)
