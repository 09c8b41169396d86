"""Starlette (and FastAPI) glue for ``WebhookEndpoint``: a route, or an endpoint function for your own.

    app = Starlette(routes=[webhook_route("/hh/webhook", WebhookEndpoint(queue))])
    # FastAPI: app.router.routes.append(webhook_route("/hh/webhook", endpoint))

Needs the ``web`` extra.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .asgi import MAX_BODY, WebhookEndpoint


def webhook_view(endpoint: WebhookEndpoint) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint function (``request -> response``) answering HH's callbacks."""

    async def view(request: Request) -> Response:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():  # read no further than max_body, whatever is declared
            size += len(chunk)
            if size > endpoint.max_body:
                return Response(b'{"error":"too big"}', 413, media_type="application/json")
            chunks.append(chunk)
        reply = await endpoint.accept(b"".join(chunks))
        return Response(reply.content(), reply.status, media_type="application/json")

    return view


def webhook_route(path: str, endpoint: WebhookEndpoint, *, name: str = "hh_webhook") -> Route:
    """A ``POST`` route at ``path`` (FastAPI apps take it too: ``app.router.routes.append(route)``)."""
    return Route(path, webhook_view(endpoint), methods=["POST"], name=name, include_in_schema=False)


__all__ = ["MAX_BODY", "webhook_route", "webhook_view"]
