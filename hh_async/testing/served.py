"""An ASGI app under uvicorn on loopback, in a thread of its own: the fake HH itself, and the receivers it
delivers webhooks to in tests and load runs."""

from __future__ import annotations

import abc
import socket
import threading
from typing import Any, Literal, Self


def free_port() -> int:
    """A loopback port nobody listens on now, for a server started in another process (which binds it
    itself, so another process could take it first: callers that can, pass a bound socket instead)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Served(abc.ABC):
    """A server run by ``start()`` and ``stop()``, both blocking until it is up or gone: also a context
    manager, sync (``with``) and async (``async with``, starting and stopping in a worker thread)."""

    @abc.abstractmethod
    def start(self) -> Self: ...

    @abc.abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(self, *exc: object) -> None:
        import anyio.to_thread

        await anyio.to_thread.run_sync(self.stop)


class ServedApp(Served):
    """Any ASGI app under uvicorn on loopback, in a thread of its own: a webhook receiver for the fake to
    deliver to, in tests and load runs. ``with ServedApp(app) as served: served.url``."""

    def __init__(
        self,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        lifespan: Literal["auto", "on", "off"] = "auto",
        name: str = "served-app",
    ) -> None:
        self.app = app
        self._name = name
        self.url = ""
        self._bind = (host, port)
        self._lifespan = lifespan
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
        sock.bind(self._bind)
        host, port = sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan=self._lifespan, loop="asyncio"
        )
        server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=self._name, daemon=True
        )
        self._thread.start()
        ready = threading.Event()
        while not server.started:
            if not self._thread.is_alive():
                sock.close()
                raise RuntimeError("the served app did not start (see uvicorn's log)")
            ready.wait(0.01)  # polling a condition: the server says it started
        self._server = server
        return self

    def stop(self) -> None:
        """Stop serving and wait for the server's thread to end; a server that does not end within
        30 s is an error, not something to leave running behind a test."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
            self._server = None
            if self._thread.is_alive():
                raise RuntimeError(f"{self._name} did not stop within 30 s")
