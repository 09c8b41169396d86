"""A static server on loopback for client benchmarks: every request gets the same small JSON body.

It runs in its own process (``python benchmarks/static_server.py PORT [--h2]``), so the CPU a benchmark reads
off its own process is the client's alone. HTTP/1.1: keep-alive, no parsing beyond the end of the head, so
the server costs the client nothing. ``--h2``: the same body over cleartext HTTP/2 (hypercorn), for httpx's
HTTP/2 transport.
"""

from __future__ import annotations

import asyncio
import sys

BODY = b'{"id":"1","parent_id":null,"name":"\xd0\x9c\xd0\xbe\xd1\x81\xd0\xba\xd0\xb2\xd0\xb0","areas":[]}'
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\nConnection: keep-alive\r\n\r\n" + BODY
)


class _Static(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        # Requests of the benchmarks are GETs without a body: one head, one answer.
        heads = self.buffer.count(b"\r\n\r\n")
        if heads:
            self.buffer = self.buffer[self.buffer.rfind(b"\r\n\r\n") + 4 :]
            self.transport.write(ANSWER * heads)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Static, "127.0.0.1", port, backlog=1024)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


async def app(scope: dict[str, object], receive: object, send: object) -> None:
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", b"%d" % len(BODY))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": BODY})  # type: ignore[operator]


async def serve_h2(port: int) -> None:
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.loglevel = "WARNING"
    config.keep_alive_max_requests = 10**9  # default 1000 per connection: h2 runs on one connection
    print("listening", flush=True)
    await hypercorn_serve(app, config)  # type: ignore[arg-type]


if __name__ == "__main__":
    asyncio.run(serve_h2(int(sys.argv[1])) if "--h2" in sys.argv else serve(int(sys.argv[1])))
