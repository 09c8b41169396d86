"""HH's webhook callback, read into the spec's models (``WebhookSendObjectBaseUser`` and its payloads).

HH POSTs ``{"id", "subscription_id", "action_type", "user_id", "payload"}``. The generated union of payloads
cannot tell them apart (every field of every payload is optional, so the first one always matches), so the
payload model is chosen by ``action_type``; an action type this spec does not know yet is kept as a plain
mapping, never rejected: HH adds events before it documents them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from .._raw.models.webhook_payload_chat_message_created import WebhookPayloadChatMessageCreated
from .._raw.models.webhook_payload_negotiation_employer_state_change import (
    WebhookPayloadNegotiationEmployerStateChange,
)
from .._raw.models.webhook_payload_new_negotiation_vacancy import WebhookPayloadNewNegotiationVacancy
from .._raw.models.webhook_payload_new_response_or_invitation_vacancy import (
    WebhookPayloadNewResponseOrInvitationVacancy,
)
from .._raw.models.webhook_payload_vacancy_archivation import WebhookPayloadVacancyArchivation
from .._raw.models.webhook_payload_vacancy_change import WebhookPayloadVacancyChange
from .._raw.models.webhook_payload_vacancy_prolongation import WebhookPayloadVacancyProlongation
from .._raw.models.webhook_payload_vacancy_publication_for_vacancy_manager import (
    WebhookPayloadVacancyPublicationForVacancyManager,
)

Payload = (
    WebhookPayloadNewNegotiationVacancy
    | WebhookPayloadNewResponseOrInvitationVacancy
    | WebhookPayloadVacancyArchivation
    | WebhookPayloadVacancyChange
    | WebhookPayloadVacancyProlongation
    | WebhookPayloadVacancyPublicationForVacancyManager
    | WebhookPayloadChatMessageCreated
    | WebhookPayloadNegotiationEmployerStateChange
)

PAYLOADS: Mapping[str, type[Payload]] = {
    "NEW_NEGOTIATION_VACANCY": WebhookPayloadNewNegotiationVacancy,
    "NEW_RESPONSE_OR_INVITATION_VACANCY": WebhookPayloadNewResponseOrInvitationVacancy,
    "VACANCY_ARCHIVATION": WebhookPayloadVacancyArchivation,
    "VACANCY_CHANGE": WebhookPayloadVacancyChange,
    "VACANCY_PROLONGATION": WebhookPayloadVacancyProlongation,
    "VACANCY_PUBLICATION_FOR_VACANCY_MANAGER": WebhookPayloadVacancyPublicationForVacancyManager,
    "CHAT_MESSAGE_CREATED": WebhookPayloadChatMessageCreated,
    "NEGOTIATION_EMPLOYER_STATE_CHANGE": WebhookPayloadNegotiationEmployerStateChange,
}
"""The action types HH documents, with their payload models."""

# Events that name the thing they announce, so that the same fact found another way (reconciliation)
# gets the same key: a negotiation by its topic, a chat message by chat and message.
NATURAL_KEYS: Mapping[str, tuple[str, ...]] = {
    "NEW_NEGOTIATION_VACANCY": ("topic_id",),
    "NEW_RESPONSE_OR_INVITATION_VACANCY": ("topic_id",),
    "CHAT_MESSAGE_CREATED": ("chat_id", "message_id"),
}


class MalformedEvent(ValueError):
    """The body is not an HH callback; the message says why (answered with 400)."""


@attrs.frozen
class WebhookEvent:
    """One callback. ``payload`` is the spec's model for ``action_type``, or the raw mapping for an action
    type the spec does not describe (``known`` is False then). ``body`` is the callback as HH sent it."""

    id: str
    subscription_id: str
    action_type: str
    user_id: str | None
    payload: Payload | Mapping[str, Any] = attrs.field(eq=False)
    body: Mapping[str, Any] = attrs.field(eq=False, repr=False)
    also_keys: tuple[str, ...] = attrs.field(default=(), eq=False, repr=False)
    """More dedup keys, for an event made up rather than delivered (reconciliation): the natural keys
    of the other callbacks that announce the same fact."""

    @property
    def known(self) -> bool:
        return self.action_type in PAYLOADS

    @property
    def keys(self) -> tuple[str, ...]:
        """Dedup keys: HH's delivery ``id``, plus the natural key of events that name their subject.
        An event is a duplicate when any of its keys was seen."""
        keys = [f"id:{self.id}"]
        fields = NATURAL_KEYS.get(self.action_type)
        raw = self.body.get("payload")
        if fields and isinstance(raw, Mapping):
            values = [raw.get(name) for name in fields]
            if all(isinstance(v, str) and v for v in values):
                keys.append(":".join([self.action_type, *(str(v) for v in values)]))
        return (*keys, *self.also_keys)

    def to_json(self) -> bytes:
        """The callback as stored (HH's body, nothing lost): ``parse_event`` reads it back. A lone
        surrogate (``"\\ud800"``, valid JSON though not text) stays escaped rather than failing the store."""
        text = json.dumps(self.body, ensure_ascii=False, separators=(",", ":"))
        return text.encode("utf-8", "backslashreplace")


def event_from_dict(body: Mapping[str, Any]) -> WebhookEvent:
    """A callback from its decoded JSON; ``MalformedEvent`` naming the first field that is wrong."""
    if not isinstance(body, Mapping):
        raise MalformedEvent(f"the body is a JSON {type(body).__name__}, not an object")
    for name in ("id", "subscription_id", "action_type"):
        value = body.get(name)
        if not isinstance(value, str) or not value:
            problem = "missing" if value is None else f"not a non-empty string ({value!r:.40})"
            raise MalformedEvent(f"field {name!r} is {problem}")
    user_id = body.get("user_id")  # deprecated by HH ("may be 0"): tolerated when absent
    if user_id is not None and not isinstance(user_id, str | int):
        raise MalformedEvent(f"field 'user_id' is not a string ({user_id!r:.40})")
    raw = body.get("payload")
    if not isinstance(raw, Mapping):
        raise MalformedEvent(
            "field 'payload' is missing" if raw is None else "field 'payload' is not an object"
        )
    action_type = str(body["action_type"])
    model = PAYLOADS.get(action_type)
    payload: Payload | Mapping[str, Any] = model.from_dict(raw) if model is not None else dict(raw)
    return WebhookEvent(
        id=str(body["id"]),
        subscription_id=str(body["subscription_id"]),
        action_type=action_type,
        user_id=None if user_id is None else str(user_id),
        payload=payload,
        body=dict(body),
    )


def parse_event(data: bytes | str) -> WebhookEvent:
    """A callback from its raw body (HH sends UTF-8 JSON)."""
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEvent(f"the body is not JSON ({exc.__class__.__name__})") from None
    except RecursionError:  # JSON nested deeper than Python parses: no callback of HH's
        raise MalformedEvent("the body is JSON nested too deep") from None
    return event_from_dict(body)
