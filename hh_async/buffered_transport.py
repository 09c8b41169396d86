"""``BufferedTransport``: a streaming transport (httpx's own) made safe for the wrappers above it.

Each answer is read whole inside the transport, as ``AiohttpTransport`` does, and the exchange runs
isolated from asyncio's native cancellation (``cancellation.isolated``): httpx's pool loses connections
when a task is cancelled natively in the middle of a request, and after ``max_connections`` such losses
every request waits forever. HH's answers are JSON of at most a few hundred KB, so nothing is lost by not
streaming them, and a response that is whole needs nobody to close it.
"""

from __future__ import annotations

import httpx

from .cancellation import isolated


def read_whole(response: httpx.Response) -> bytes:
    """``response.read()`` for an answer whose body is in memory already (an ``httpx.ByteStream``, as our
    transports return): without a ``Content-Encoding`` to undo, the body is the content, and httpx's
    reading machinery (generators, decoders, three context managers: ~10 us, a third of the client's
    own CPU per call) has nothing to do. The response ends as ``read()`` leaves it: content set, stream
    consumed, closed."""
    if hasattr(response, "_content"):
        return response.content
    stream = response.stream
    if not _SHORT_WAY or not isinstance(stream, httpx.ByteStream) or _encoded(response.headers):
        return response.read()
    return _short_way(response, stream)


def _short_way(response: httpx.Response, stream: httpx.ByteStream) -> bytes:
    content = b"".join(stream)
    response._content = content
    response._num_bytes_downloaded = len(content)
    response.is_stream_consumed = response.is_closed = True
    return content


def _encoded(headers: httpx.Headers) -> bool:
    """``"content-encoding" in headers``, by httpx's lower-cased names: a lookup by name first works out
    the headers' text encoding, a decode of every name and value: 1.2 us for three headers, this 0.25."""
    return b"content-encoding" in [name for _, name, _ in headers._list]


def _short_way_works() -> bool:
    """Whether this httpx reads a response the way ``_short_way`` leaves it, and keeps header names as
    ``_encoded`` looks them up (checked once)."""
    try:
        probe = httpx.Response(200, stream=httpx.ByteStream(b"{}"))
        _short_way(probe, probe.stream)  # type: ignore[arg-type]
        read = probe.content == b"{}" and probe.num_bytes_downloaded == 2 and probe.is_closed
        named = _encoded(httpx.Headers({"Content-Encoding": "gzip"})) and not _encoded(
            httpx.Headers({"A": "b"})
        )
        return read and named
    except Exception:
        return False


_SHORT_WAY = _short_way_works()


class BufferedTransport(httpx.AsyncBaseTransport):
    reads_whole_bodies = True
    """Marks transports whose answers come whole and whose exchange is safe from native cancellation."""

    def __init__(self, transport: httpx.AsyncBaseTransport) -> None:
        self.transport = transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await isolated(lambda: self._exchange(request))

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        response = await self.transport.handle_async_request(request)
        if isinstance(response.stream, httpx.ByteStream):  # whole already (a test double's answer)
            return response
        try:
            # Raw bytes: the client above decodes Content-Encoding once, as it would a stream.
            content = b"".join([chunk async for chunk in response.aiter_raw()])
        finally:
            await response.aclose()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=httpx.ByteStream(content),
            request=request,
            extensions={k: v for k, v in response.extensions.items() if k != "network_stream"},
        )

    async def aclose(self) -> None:
        await self.transport.aclose()

    def __repr__(self) -> str:
        return f"BufferedTransport({self.transport!r})"


__all__ = ["BufferedTransport", "read_whole"]
