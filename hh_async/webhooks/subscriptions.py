"""Bring a user's webhook subscription to exactly what the app wants, from whatever state it is in.

HH keeps one URL per user and application, and its update (``PUT``) replaces the whole list of actions.
``ensure_subscription`` lists what exists, then creates, updates or deletes only what differs: run it at
every login or deploy, as often as you like; with nothing to change it makes no write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import attrs

from .._raw.models.webhook_subscription_create import WebhookSubscriptionCreate
from .._raw.models.webhook_subscription_update import WebhookSubscriptionUpdate
from ..errors import HHError
from .events import PAYLOADS

if TYPE_CHECKING:
    from ..client import HHClient

ActionSpec = str | Mapping[str, Any]
"""``"VACANCY_CHANGE"``, or HH's form:
``{"type": "VACANCY_CHANGE", "settings": {"vacancies_only_mine": True}}``."""


@attrs.frozen
class Subscription:
    id: str | None
    url: str | None
    actions: tuple[Mapping[str, Any], ...]
    outcome: Literal["created", "updated", "unchanged", "deleted", "absent"]
    removed: tuple[str, ...] = ()
    """Ids of other subscriptions of this user and app that were deleted on the way."""


def normalize_actions(actions: Iterable[ActionSpec]) -> list[dict[str, Any]]:
    """HH's action objects, in a stable order, one per type; clear errors for what HH would refuse."""
    found: dict[str, dict[str, Any]] = {}
    for action in actions:
        item: dict[str, Any] = {"type": action} if isinstance(action, str) else dict(action)
        kind = item.get("type")
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"an action needs a 'type' (one of {sorted(PAYLOADS)}), got {action!r}")
        if kind in found and found[kind] != item:
            raise ValueError(f"action {kind} given twice with different settings")
        if item.get("settings") is None:
            item.pop("settings", None)
        found[kind] = item
    if not found:
        raise ValueError("a subscription needs at least one action (HH refuses an empty list)")
    return [found[kind] for kind in sorted(found)]


def _canonical(actions: Iterable[Mapping[str, Any]]) -> frozenset[tuple[str, frozenset[tuple[str, Any]]]]:
    """What an action list means: ``vacancies_only_mine: false`` is HH's default, as is no settings."""
    result = set()
    for action in actions:
        settings = action.get("settings") or {}
        meaningful = frozenset(
            (k, v) for k, v in settings.items() if not (k == "vacancies_only_mine" and v is False)
        )
        result.add((str(action.get("type")), meaningful))
    return frozenset(result)


async def ensure_subscription(hh: HHClient, url: str, actions: Iterable[ActionSpec]) -> Subscription:
    """Make ``hh``'s user (the auth of ``hh`` or its view) subscribed to exactly ``actions`` at ``url``:
    one subscription kept (the one already at ``url`` if any), updated only if it differs, the rest
    deleted, one created if there is none. Two replicas doing it at once both succeed: the one whose
    create HH refuses (``already_exist``) converges on the other's subscription."""
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"the webhook URL must be absolute http(s), got {url!r}")
    wanted = normalize_actions(actions)
    try:
        return await _converge(hh, url, wanted)
    except HHError as exc:
        if "already_exist" not in (e.value for e in exc.errors):
            raise
        return await _converge(hh, url, wanted)  # created meanwhile by someone else: list again


async def _converge(hh: HHClient, url: str, wanted: list[dict[str, Any]]) -> Subscription:
    existing = [item.to_dict() for item in (await hh.get_webhook_subscriptions()).items or [] if item]
    keep = next((s for s in existing if s.get("url") == url), existing[0] if existing else None)
    removed = []
    for other in existing:
        if other is not keep and other.get("id"):
            await hh.cancel_webhook_subscription(subscription_id=str(other["id"]))
            removed.append(str(other["id"]))
    body = {"url": url, "actions": wanted}
    if keep is None:
        created = await hh.post_webhook_subscription(body=WebhookSubscriptionCreate.from_dict(body))
        ident = created.id if isinstance(created.id, str) else None
        return Subscription(ident, url, tuple(wanted), "created", tuple(removed))
    ident = str(keep["id"])
    if keep.get("url") == url and _canonical(keep.get("actions") or []) == _canonical(wanted):
        return Subscription(ident, url, tuple(keep.get("actions") or ()), "unchanged", tuple(removed))
    await hh.change_webhook_subscription(
        subscription_id=ident, body=WebhookSubscriptionUpdate.from_dict(body)
    )
    return Subscription(ident, url, tuple(wanted), "updated", tuple(removed))


async def remove_subscriptions(hh: HHClient) -> Subscription:
    """Delete every subscription of ``hh``'s user in this app (a user who turned notifications off)."""
    existing = [item.to_dict() for item in (await hh.get_webhook_subscriptions()).items or [] if item]
    removed = []
    for item in existing:
        if item.get("id"):
            await hh.cancel_webhook_subscription(subscription_id=str(item["id"]))
            removed.append(str(item["id"]))
    return Subscription(None, None, (), "deleted" if removed else "absent", tuple(removed))
