"""Catch what webhooks missed: HH says "webhooks are not a means of guaranteed delivery".

``reconcile_negotiations`` reads the responses to the given vacancies created since a moment and feeds
each one, as the ``NEW_NEGOTIATION_VACANCY`` event HH would have sent, through the same ``EventStore`` as
the endpoint. The event's dedup key is the negotiation's topic id (``WebhookEvent.keys``), the key a
delivered webhook for it has too: a delivered response is not stored twice, a missed one is stored and
handled like any other. Run it on a schedule (every few minutes), with ``since`` a little before the last
run's start so that nothing falls between two runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import attrs

from .events import WebhookEvent, event_from_dict
from .store import EventStore

if TYPE_CHECKING:
    from ..client import HHClient

MSK = timezone(timedelta(hours=3))
SUBSCRIPTION_ID = "reconciliation"
"""The ``subscription_id`` of events made here (no HH subscription sent them)."""


@attrs.define
class ReconcileReport:
    seen: int = 0
    """Responses created since ``since``."""
    recovered: list[str] = attrs.field(factory=list)
    """Topic ids nobody had stored: missed deliveries, stored now."""
    already: int = 0
    """Responses whose webhook had arrived (or an earlier run had found them)."""


def _moment(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=MSK)  # HH's own times are Moscow time


def _ident(value: Any) -> str | None:
    """An id as the webhook carries it: a string (the list gives ``chat_id`` as a number)."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def negotiation_event(item: Mapping[str, Any], vacancy_id: str, employer_id: str = "") -> WebhookEvent:
    """The ``NEW_NEGOTIATION_VACANCY`` callback HH sends for a response (one item of
    ``get_collection_negotiations_list``). A delivered ``NEW_RESPONSE_OR_INVITATION_VACANCY`` for the same
    topic makes it a duplicate too: a subscriber to that type must not get the response twice."""
    topic = str(item["id"])
    resume: Mapping[str, Any] = item["resume"] if isinstance(item.get("resume"), Mapping) else {}
    event = event_from_dict(
        {
            "id": f"reconciled-{topic}",
            "subscription_id": SUBSCRIPTION_ID,
            "action_type": "NEW_NEGOTIATION_VACANCY",
            "user_id": "0",
            "payload": {
                "topic_id": topic,
                "chat_id": _ident(item.get("chat_id")),
                "resume_id": _ident(resume.get("id")),
                "vacancy_id": vacancy_id,
                "employer_id": employer_id,
                "negotiation_date": item.get("created_at"),
            },
        }
    )
    return attrs.evolve(event, also_keys=(f"NEW_RESPONSE_OR_INVITATION_VACANCY:{topic}",))


async def reconcile_negotiations(
    hh: HHClient,
    store: EventStore,
    *,
    vacancy_ids: Iterable[str],
    since: datetime,
    employer_id: str = "",
    per_page: int = 50,
) -> ReconcileReport:
    """Store every response to ``vacancy_ids`` created at or after ``since`` (timezone-aware) that the
    store has not seen. Pages are read newest first (``order_by=created_at``) and reading a vacancy
    stops at the first older response."""
    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware (HH's times carry their offset)")
    report = ReconcileReport()
    for vacancy_id in vacancy_ids:
        page = 0
        while True:
            answer = await hh.get_collection_negotiations_list(
                vacancy_id=vacancy_id, order_by="created_at", page=page, per_page=per_page
            )
            data = answer.to_dict()
            items = [i for i in data.get("items") or [] if isinstance(i, Mapping) and i.get("id")]
            older = False
            for item in items:
                created = _moment(item.get("created_at"))
                if created is not None and created < since:
                    older = True
                    break
                report.seen += 1
                event = negotiation_event(item, vacancy_id, employer_id)
                if await store.put(event):
                    report.recovered.append(str(item["id"]))
                else:
                    report.already += 1
            pages = data.get("pages")
            page += 1
            if older or not items or not isinstance(pages, int) or page >= pages:
                break
    return report
