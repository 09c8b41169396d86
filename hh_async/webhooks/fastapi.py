"""FastAPI glue for ``WebhookEndpoint``: a router to ``app.include_router``, kept out of the OpenAPI schema
(HH is the only caller). Needs the ``web`` extra."""

from __future__ import annotations

from fastapi import APIRouter

from .asgi import WebhookEndpoint
from .starlette import webhook_view


def webhook_router(path: str, endpoint: WebhookEndpoint) -> APIRouter:
    """``app.include_router(webhook_router("/hh/webhook", WebhookEndpoint(queue)))``"""
    router = APIRouter()
    router.add_route(path, webhook_view(endpoint), methods=["POST"], include_in_schema=False)
    return router


__all__ = ["webhook_router"]
