"""The fake HeadHunter: an ASGI app answering every operation of the spec the client was generated from.

- ``GET /vacancies`` and ``GET /vacancies/{id}`` serve a seeded dataset with HH's filters, order, ``found``
  and ``pages``, and HH's depth cap (past 2000 items: 400); tests change the data mid-run
  (``dataset.archive``/``publish``, from ``before_search`` or between items);
- ``/token``, ``/oauth/authorize``: OAuth by HH's rules (``oauth.py``); API calls check the token;
- every other operation answers its spec example (or a body made from its schema) with its 2xx status;
- ``User-Agent``/``HH-User-Agent`` are required (``400 bad_user_agent``);
- faults (``faults.py``) make it fail the ways HH and its proxies do;
- ``/webhook/subscriptions`` per user (``oauth.user_of``: refreshed tokens stay their user), and events
  in its data (``add_negotiation``, ``change_vacancy``, ``archive_vacancy``, ``post_chat_message``, or
  the API calls that make them) sent to the subscribed URLs by ``webhooks`` (``webhooks.py``), which runs
  for as long as the server does (ASGI lifespan);
- ``/_fake/...``: a test API (not HH's) to make events and read the sender's record from another process.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
import threading
from collections import Counter, deque
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

import anyio

from ..facts import DEPTH_CAPS, MAX_PER_PAGE, SEARCH_DEPTH
from ..operations import registry
from ..validation import _rules, _Validator, validate
from .dataset import MSK, Dataset, hh_time, parse_time
from .faults import Faults
from .oauth import OAuthServer
from .webhooks import DeliveryPolicy, WebhookSender, summary

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class FakeHHApp:
    def __init__(
        self, dataset: Dataset, oauth: OAuthServer, faults: Faults, base_url: str = "", list_size: int = 6000
    ) -> None:
        self.dataset = dataset
        self.list_size = list_size
        """Items in every other paged list (employers, negotiations...): past the employers' 5000 cap."""
        self.oauth = oauth
        self.faults = faults
        self.base_url = base_url
        self.requests: Counter[str] = Counter()
        """Requests by ``METHOD path-template``, for assertions."""
        self.received: deque[tuple[str, str, dict[str, list[str]]]] = deque(maxlen=1000)
        """The latest requests as they came: method, path and query parameters (no headers: no tokens)."""
        self.before_search: Callable[[dict[str, list[str]]], object] | None = None
        """Called with the query before each ``GET /vacancies`` is answered (in the server's thread): a
        test changes the data there (``dataset.archive``, ``dataset.publish``) at the request it chooses."""
        self.webhooks = WebhookSender()
        """Subscriptions and the webhook sender: ``webhooks.configure(DeliveryPolicy(...))`` to choose
        duplicates, losses and time scale; ``webhooks.attempts``/``acked`` to see what happened."""
        self.negotiations: dict[str, list[dict[str, Any]]] = {}
        """Responses by vacancy id, newest last (``add_negotiation``), served by
        ``GET /negotiations/response``."""
        self._routes = _compile_routes()
        self._request_ids = itertools.count(1)
        self._event_ids = itertools.count(1)
        self._data_lock = threading.Lock()  # tests add data from their own thread

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = {k: v for k, v in parse_qs(scope["query_string"].decode(), keep_blank_values=True).items()}
        self.received.append((method, path, query))
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self.faults.latency:
            await anyio.sleep(self.faults.latency)
        fault = self.faults.pick(path)
        if fault is not None and await _inject(fault, send, self.faults.slow_seconds):
            return
        status, payload, extra = self.handle(method, path, headers, query, body)
        request_id = f"fake-{next(self._request_ids)}"  # one per answer, in the header and HH's body
        if isinstance(payload, dict) and "request_id" in payload:
            payload = {**payload, "request_id": request_id}
        await _respond(send, status, payload, {"x-request-id": request_id, **extra})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """The webhook sender lives as long as the server: started at startup, cancelled (its attempts in
        flight with it, its connections closed) at shutdown."""
        async with anyio.create_task_group() as group:
            while (await receive())["type"] != "lifespan.startup":
                pass
            group.start_soon(self.webhooks.run)
            await send({"type": "lifespan.startup.complete"})
            while (await receive())["type"] != "lifespan.shutdown":
                pass
            group.cancel_scope.cancel()
        await send({"type": "lifespan.shutdown.complete"})

    # --- dispatch -----------------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, headers: dict[str, str], query: dict[str, list[str]], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if path == "/oauth/authorize" and method == "GET":
            status, target = self.oauth.authorize({k: v[0] for k, v in query.items()})
            return (302, None, {"location": target}) if status == 302 else (400, {"error": target}, {})
        if path.startswith("/_fake/"):
            return self.control(method, path, body)
        if not (headers.get("hh-user-agent") or headers.get("user-agent")):
            return _errors(400, "bad_user_agent", "unset")  # token requests included, as at HH
        if path == "/token" and method == "POST":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            status, answer = self.oauth.token(form)
            return status, answer, {}
        if path == "/token" and method == "DELETE":
            if self.oauth.invalidate(headers.get("authorization")):
                return 204, None, {}
            return _errors(403, "oauth", "bad_authorization")
        refused = self._refusal(headers)
        if refused is not None:
            return refused
        problem = self.oauth.check(headers.get("authorization"))
        if problem is not None:
            return _errors(403, "oauth", problem)
        route = self._match(method, path)
        if route is None:
            return _errors(404, "not_found", None)
        operation_id, template, params = route
        self.requests[f"{method} {template}"] += 1
        authorization = headers.get("authorization")
        user = self.oauth.user_of(authorization)
        needed = token_needed(operation_id)
        if needed == "user" and user is None:
            return _errors(403, "oauth", "user_auth_expected")
        if needed == "any" and authorization is None:
            return _errors(403, "oauth", "bad_authorization")
        rejected = check_request(operation_id, query, headers, body)
        if rejected is not None:
            return rejected
        if operation_id == "get-current-user-info":
            return self.me(user, self.oauth.role_of(authorization))
        if operation_id == "get-vacancies":
            if self.faults.captcha_for_anonymous and "authorization" not in headers:
                return (
                    403,
                    {
                        "errors": [
                            {
                                "type": "captcha_required",
                                "value": "captcha_required",
                                "captcha_url": "https://hh.ru/account/captcha?state=fake",
                            }
                        ]
                    },
                    {},
                )
            return self.search(query)
        if operation_id == "get-vacancy":
            index = self.dataset.index(params["vacancy_id"])
            if index is None:
                return _errors(404, "not_found", None)
            return 200, self.dataset.vacancy(index, self.base_url, full=True), {}
        if operation_id in _SUBSCRIPTION_OPERATIONS:
            return self.subscriptions(operation_id, headers.get("authorization"), params, body)
        if operation_id == "get-collection-negotiations-list":
            return self.negotiation_list(query)
        self._event_of_call(operation_id, params, headers.get("authorization"))
        return self.from_spec(operation_id, query)

    # --- users and webhook subscriptions ------------------------------------------------------------------

    def me(self, user: str | None, role: str | None) -> tuple[int, Any, dict[str, str]]:
        """``GET /me`` as HH answers it: an applicant's, a manager's (employer token) or an application's
        profile, whichever the token is; a user's carries their id (so a test sees whose token it was)."""
        body = {**_profile(ME_SHAPES.get(role or "", "MeAnyProfile"))}  # its own top level: changed below
        body.update(
            auth_type=role,
            is_applicant=role == "applicant",
            is_employer=role == "employer",
            is_application=role == "application",
            is_admin=False,
            is_employer_integration=False,
        )
        if user is not None:
            body["id"] = user
        return 200, body, {}

    def subscriptions(
        self, operation_id: str, authorization: str | None, params: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        user = self.oauth.user_of(authorization)
        if user is None:
            return _errors(403, "oauth", "user_auth_expected")
        if operation_id == "get-webhook-subscriptions":
            return 200, {"items": self.webhooks.subscriptions_of(user)}, {}
        if operation_id == "cancel-webhook-subscription":
            found = self.webhooks.delete(user, params["subscription_id"])
            return (204, None, {}) if found else _errors(404, "not_found", None)
        try:
            document = json.loads(body or b"{}")
        except ValueError:
            return _errors(400, "bad_json_data", None, "the body is not JSON")
        url, actions = document.get("url"), document.get("actions")
        if operation_id == "post-webhook-subscription":
            created = self.webhooks.create(user, url, actions)
            if created is None:
                return _errors(400, "notifications", "already_exist")
            return 201, {"id": created}, {}
        found = self.webhooks.update(user, params["subscription_id"], url, actions)
        return (204, None, {}) if found else _errors(404, "not_found", None)

    def control(self, method: str, path: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        """The test API, for a fake in another process (load runs): not part of HH.

        - ``POST /_fake/events`` ``{"kind": "negotiation"|"vacancy_change"|"vacancy_archivation"|
          "chat_message", "vacancy_id"|"chat_id": ..., "count": 1, "users": null}``: make events;
        - ``GET /_fake/webhooks``: what the sender did (``webhooks.summary``);
        - ``PUT /_fake/webhooks/policy`` with ``DeliveryPolicy`` fields: how it delivers from now on.
        """
        try:
            document = json.loads(body or b"{}")
        except ValueError:
            return 400, {"error": "the body is not JSON"}, {}
        if method == "GET" and path == "/_fake/webhooks":
            return 200, summary(self.webhooks), {}
        if method == "PUT" and path == "/_fake/webhooks/policy":
            try:
                self.webhooks.configure(DeliveryPolicy(**document))
            except (TypeError, ValueError) as exc:
                return 400, {"error": str(exc)}, {}
            return 204, None, {}
        if method == "POST" and path == "/_fake/events":
            kind, users = document.get("kind"), document.get("users")
            count = document.get("count", 1)
            if not isinstance(count, int) or count < 1:
                return 400, {"error": "count is a positive integer"}, {}
            made: list[str] = []
            topics: list[str] = []
            for _ in range(count):
                if kind == "negotiation":
                    topic, events = self.add_negotiation(
                        str(document.get("vacancy_id", "100000")), users=users
                    )
                    topics.append(topic)
                    made += events
                elif kind == "vacancy_change":
                    made += self.change_vacancy(str(document.get("vacancy_id", "100000")), users=users)
                elif kind == "vacancy_archivation":
                    made += self.archive_vacancy(str(document.get("vacancy_id", "100000")), users=users)
                elif kind == "chat_message":
                    made += self.post_chat_message(str(document.get("chat_id", "1")), users=users)
                else:
                    return 400, {"error": f"unknown kind {kind!r}"}, {}
            return 200, {"events": made, "topics": topics}, {}
        return 404, {"error": f"no test API at {method} {path}"}, {}

    # --- events in the data (tests call these; some API calls make them too) -----------------------------

    def add_negotiation(
        self,
        vacancy_id: str,
        *,
        resume_id: str | None = None,
        created_at: datetime | None = None,
        users: list[str] | None = None,
    ) -> tuple[str, list[str]]:
        """A new response to ``vacancy_id``: listed by ``GET /negotiations/response`` from now on, and
        announced (``NEW_NEGOTIATION_VACANCY``, ``NEW_RESPONSE_OR_INVITATION_VACANCY``) to subscribers
        (``users`` only, if given). Returns the topic id and the ids of the events made."""
        moment = hh_time(created_at or datetime.now(MSK))
        with self._data_lock:
            topic = str(5_000_000 + next(self._event_ids))
            chat = str(9_000_000 + int(topic))
            resume = resume_id or f"resume-{topic}"
            self.negotiations.setdefault(vacancy_id, []).append(
                {"id": topic, "created_at": moment, "chat_id": chat, "resume_id": resume}
            )
        common = {"chat_id": chat, "topic_id": topic, "resume_id": resume, "vacancy_id": vacancy_id}
        common["employer_id"] = "1455"
        events = self.webhooks.emit(
            "NEW_NEGOTIATION_VACANCY", {**common, "negotiation_date": moment}, users=users
        )
        events += self.webhooks.emit(
            "NEW_RESPONSE_OR_INVITATION_VACANCY", {**common, "response_date": moment}, users=users
        )
        return topic, events

    def change_vacancy(self, vacancy_id: str, *, users: list[str] | None = None) -> list[str]:
        payload = {"vacancy_id": vacancy_id, "change_date": hh_time(datetime.now(MSK))}
        return self.webhooks.emit("VACANCY_CHANGE", payload, users=users)

    def archive_vacancy(self, vacancy_id: str, *, users: list[str] | None = None) -> list[str]:
        if self.dataset.index(vacancy_id) is not None:
            self.dataset.archive(vacancy_id)
        payload = {"vacancy_id": vacancy_id, "archivation_date": hh_time(datetime.now(MSK))}
        return self.webhooks.emit("VACANCY_ARCHIVATION", payload, users=users)

    def post_chat_message(
        self, chat_id: str, *, sender: str = "applicant-1", users: list[str] | None = None
    ) -> list[str]:
        payload = {
            "chat_id": chat_id,
            "message_id": str(next(self._event_ids)),
            "message_type": "SIMPLE",
            "sender_participant_id": sender,
            "is_current_participant": False,
            "creation_time": hh_time(datetime.now(MSK)),
            "role": "APPLICANT",
        }
        return self.webhooks.emit("CHAT_MESSAGE_CREATED", payload, users=users)

    def _event_of_call(self, operation_id: str, params: dict[str, str], authorization: str | None) -> None:
        """API calls that change the fake's data announce it, as HH does, to the calling user (the fake's
        users do not share vacancies or chats)."""
        user = self.oauth.user_of(authorization)
        users = [user] if user is not None else []
        if operation_id == "edit-vacancy":
            self.change_vacancy(params["vacancy_id"], users=users)
        elif operation_id == "add-vacancy-to-archive":
            self.archive_vacancy(params["vacancy_id"], users=users)
        elif operation_id == "chat-message-post":
            self.post_chat_message(params["chat_id"], sender=user or "anonymous", users=users)

    def negotiation_list(self, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        """``GET /negotiations/response?vacancy_id=``: the vacancy's responses, newest first, paged."""
        vacancy_id = query.get("vacancy_id", [""])[0]
        try:
            page, per_page = int(query.get("page", ["0"])[0]), int(query.get("per_page", ["20"])[0])
        except ValueError:
            return _errors(400, "bad_argument", "page")
        if page < 0 or not 0 < per_page <= MAX_PER_PAGE:
            return _errors(400, "bad_argument", "page" if page < 0 else "per_page")
        with self._data_lock:
            found = sorted(self.negotiations.get(vacancy_id, []), key=lambda n: n["created_at"], reverse=True)
        items = [
            {
                "id": n["id"],
                "created_at": n["created_at"],
                "updated_at": n["created_at"],
                "chat_id": int(n["chat_id"]),
                "resume": {"id": n["resume_id"]},
                "vacancy": {"id": vacancy_id},
                "state": {"id": "response", "name": "Отклик"},
                "employer_state": {"id": "response", "name": "Отклик"},
                "templates": [],
                "actions": [],
                "url": f"{self.base_url}/negotiations/{n['id']}",
                "has_updates": True,
                "source": "NEGOTIATION",
            }
            for n in found[page * per_page : (page + 1) * per_page]
        ]
        pages = math.ceil(len(found) / per_page)
        body = {"items": items, "found": len(found), "page": page, "pages": pages, "per_page": per_page}
        body["ordered_by"] = {"id": "created_at", "name": "по дате отклика"}  # newest first, as listed
        return 200, body, {}

    def _refusal(self, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]] | None:
        refuse = self.faults.refuse
        if refuse == "geo":
            return 451, "Unavailable For Legal Reasons", {"content-type": "text/plain"}
        if refuse == "anonymous" and "authorization" not in headers:
            return 403, {"description": "Forbidden", "errors": [{"type": "forbidden"}], "request_id": ""}, {}
        if refuse == "application" and "authorization" in headers:
            return _errors(403, "forbidden", "application_not_found")
        return None

    def _match(self, method: str, path: str) -> tuple[str, str, dict[str, str]] | None:
        for route_method, pattern, template, operation_id in self._routes:
            found = pattern.fullmatch(path)
            if found and route_method == method:
                return operation_id, template, found.groupdict()
        return None

    # --- vacancies ------------------------------------------------------------------------------------------

    def search(self, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        def one(name: str, default: str = "") -> str:
            return query.get(name, [default])[0]

        if self.before_search is not None:
            self.before_search(query)

        try:
            page, per_page = int(one("page", "0")), int(one("per_page", "10"))
        except ValueError:
            return _errors(400, "bad_argument", "page" if not one("page", "0").isdigit() else "per_page")
        if not 0 < per_page <= MAX_PER_PAGE:
            return _errors(400, "bad_argument", "per_page")
        if page < 0 or (page + 1) * per_page > SEARCH_DEPTH:
            return _errors(400, "bad_argument", "page", f"depth of the results is limited to {SEARCH_DEPTH}")
        try:
            start = parse_time(one("date_from")).timestamp() if one("date_from") else None
            end = parse_time(one("date_to")).timestamp() if one("date_to") else None
        except ValueError:
            return _errors(400, "bad_argument", "date_from" if one("date_from") else "date_to")
        found = self.dataset.search(one("text"), query.get("area", []), start, end)
        reachable = min(len(found), SEARCH_DEPTH)
        items = [
            self.dataset.vacancy(i, self.base_url) for i in found[page * per_page : (page + 1) * per_page]
        ]
        return (
            200,
            {
                "items": items,
                "found": len(found),
                "pages": math.ceil(reachable / per_page),
                "page": page,
                "per_page": per_page,
                "clusters": None,
                "arguments": None,
                "fixes": None,
                "suggests": None,
                "alternate_url": "https://hh.ru/search/vacancy?" + urlencode({"text": one("text")}),
            },
            {},
        )

    # --- everything else: the spec's own answer ----------------------------------------------------------

    def from_spec(self, operation_id: str, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        rules = _rules()
        operation = rules["operations"][operation_id]
        examples = rules["examples"].get(operation_id, {})
        for status in sorted(operation["responses"]):
            if status.startswith("2"):
                if _example_keeps_its_promise(operation_id, status):
                    body = examples[status]
                else:  # no example, or one HH wrote against its own schema: a body made from the schema
                    body = synthesize(operation["responses"][status], rules["schemas"])
                if _is_page(body) and registry()[operation_id].paginated:
                    return self.list_page(operation_id, body, query)
                return int(status), body, {}
        return 204, None, {}

    def list_page(
        self, operation_id: str, sample: dict[str, Any], query: dict[str, list[str]]
    ) -> tuple[int, Any, dict[str, str]]:
        """A paged list of ``list_size`` items made from the spec's sample item, with HH's depth caps."""
        page, per_page = int(query.get("page", ["0"])[0]), int(query.get("per_page", ["20"])[0])
        # HH's documented caps (hh-api-facts), else what the spec's description of the operation states.
        cap = DEPTH_CAPS.get(operation_id) or registry()[operation_id].depth_cap
        if per_page < 1 or page < 0 or (cap is not None and (page + 1) * per_page > cap):
            return _errors(400, "bad_argument", "page" if per_page >= 1 else "per_page")
        item = sample["items"][0] if sample["items"] else {}
        first = page * per_page
        items = [{**item, "id": str(n + 1)} for n in range(first, min(first + per_page, self.list_size))]
        reachable = min(self.list_size, cap or self.list_size)
        return (
            200,
            {
                **sample,
                "items": items,
                "found": self.list_size,
                "page": page,
                "per_page": per_page,
                "pages": math.ceil(reachable / per_page),
            },
            {},
        )


_SUBSCRIPTION_OPERATIONS = frozenset(
    {
        "get-webhook-subscriptions",
        "post-webhook-subscription",
        "change-webhook-subscription",
        "cancel-webhook-subscription",
    }
)


ME_SHAPES = {"applicant": "MeApplicantProfile", "employer": "MeManagerProfile", "application": "MeAnyProfile"}
"""The spec's profile for each kind of token (an employer's token is its manager's)."""

USER_TAGS = re.compile(
    r"(applicant|employer|manager)_(?!auth$)|chats$|webhook|resume_|saved_resume_searches$"
    r"|vacancy_(drafts|management)$|clickme_statistics$|salary_(bank|statistics)$"
)
APPLICATION_TAGS = re.compile(r"application_")
"""Tags (English names from overlays/10-tag-names.yaml) saying who an operation acts for. The spec's security
is one global scheme, so its tags are what tells: an operation all of whose tags are a user's (applicant,
employer, manager...) needs a user's token (HH: ``403 oauth user_auth_expected``, an application token
included); one whose tags are all a user's or an application's (``GET /me``) needs a token of either kind;
one with any other tag (dictionaries, vacancy search...) is public."""


@functools.cache
def _profile(shape: str) -> dict[str, Any]:
    """The spec's profile of one kind, made once (``GET /me`` is asked often in load runs)."""
    schemas = _rules()["schemas"]
    body: dict[str, Any] = synthesize(schemas[shape], schemas)
    return body


@functools.cache  # asked on every request; tags never change while the fake runs
def token_needed(operation_id: str) -> str | None:
    """``"user"``, ``"any"`` or None (public): what token the operation needs."""
    tags = registry()[operation_id].tags
    if not tags:
        return None
    if all(USER_TAGS.match(tag) for tag in tags):
        return "user"
    if all(USER_TAGS.match(tag) or APPLICATION_TAGS.match(tag) for tag in tags):
        return "any"
    return None


@functools.cache
def _example_keeps_its_promise(operation_id: str, status: str) -> bool:
    """Whether the spec has an example of this answer that validates against the spec's own schema (some
    of HH's do not: a null where none is allowed, an enum value in the wrong case)."""
    example = _rules()["examples"].get(operation_id, {}).get(status)
    return example is not None and not validate(example, operation_id, status)


def check_request(
    operation_id: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
) -> tuple[int, Any, dict[str, str]] | None:
    """HH's 400s: ``bad_argument`` naming a missing or malformed query parameter, ``bad_json_data`` with
    a ``pointer`` into a JSON body that breaks the spec. Unknown parameters are ignored, as HH does."""
    rules = _rules()
    operation = rules["operations"][operation_id]
    for param in operation["parameters"]:
        if param["in"] != "query":
            continue
        values = query.get(param["name"])
        if not values:
            if param.get("required"):
                return _errors(400, "bad_argument", param["name"], "required")
            continue
        schema = _Validator(rules["schemas"]).resolve(param.get("schema") or {})
        if any(not _fits(value, schema) for value in values):
            return _errors(400, "bad_argument", param["name"])
    if "body" in operation and headers.get("content-type", "").startswith("application/json"):
        try:
            document = json.loads(body or b"null")
        except ValueError:
            return _errors(400, "bad_json_data", None, "the body is not JSON")
        violations = _Validator(rules["schemas"]).check(document, operation["body"])
        if violations:
            pointer = "/" + "/".join(re.findall(r"[^.\[\]$]+", violations[0].path))
            status, payload, extra = _errors(
                400, "bad_json_data", pointer.rsplit("/", 1)[-1] or None, violations[0].message
            )
            payload["errors"][0]["pointer"] = pointer
            return status, payload, extra
    return None


def _fits(value: str, schema: dict[str, Any]) -> bool:
    """Does a query string value read as the parameter's declared type?"""
    kind = schema.get("type")
    if kind == "array":
        return _fits(value, schema.get("items") or {})
    if schema.get("enum") and value not in [str(v) for v in schema["enum"]]:
        return False
    if kind == "integer":
        return value.lstrip("-").isdigit()
    if kind == "number":
        try:
            float(value)
        except ValueError:
            return False
    if kind == "boolean":
        return value in ("true", "false")
    return True


def _is_page(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("items"), list) and "page" in body


def synthesize(schema: dict[str, Any], schemas: dict[str, Any], depth: int = 0) -> Any:
    """A small body that follows ``schema``: every declared field, one item per array."""
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    if depth > 14:  # cyclic schemas end here; real ones nest up to about 12 levels (chat messages)
        return None
    if schema.get("enum"):
        return next((v for v in schema["enum"] if v is not None), None)
    for key in ("oneOf", "anyOf"):
        if schema.get(key):
            options = [s for s in schema[key] if s.get("enum") != [None]]
            return synthesize(options[0] if options else schema[key][0], schemas, depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for member in schema["allOf"]:
            value = synthesize(member, schemas, depth + 1)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    kind = schema.get("type", "object" if "properties" in schema else None)
    if kind == "object":
        return {
            name: synthesize(prop, schemas, depth + 1)
            for name, prop in (schema.get("properties") or {}).items()
        }
    if kind == "array":
        item = synthesize(schema.get("items") or {}, schemas, depth + 1)
        return [] if item is None else [item]
    return {"string": "string", "integer": 1, "number": 1.5, "boolean": True}.get(kind or "")


def _compile_routes() -> list[tuple[str, re.Pattern[str], str, str]]:
    routes = []
    for operation in registry().values():
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", operation.path)
        routes.append((operation.method, re.compile(pattern), operation.path, operation.operation_id))
    # Literal segments first: /vacancies/drafts must not be taken for /vacancies/{vacancy_id}.
    routes.sort(key=lambda r: (r[2].count("{"), -len(r[2])))
    return routes


def _errors(
    status: int, kind: str, value: str | None, description: str | None = None
) -> tuple[int, Any, dict[str, str]]:
    entry: dict[str, Any] = {"type": kind}
    if value is not None:
        entry["value"] = value
    if description:
        entry["description"] = description
    return status, {"errors": [entry], "request_id": "fake-request"}, {}


async def _respond(send: Send, status: int, payload: Any, extra: dict[str, str]) -> None:
    if isinstance(payload, str):  # a plain-text answer (a proxy's, say)
        body = payload.encode()
    else:
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    if payload is not None and "content-type" not in extra:
        headers.append((b"content-type", b"application/json; charset=utf-8"))
    headers += [(k.encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class InjectedDrop(ConnectionAbortedError):
    """Raised on purpose to make the server drop a connection; the server's log leaves it out."""


HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"


async def _inject(fault: str, send: Send, slow_seconds: float) -> bool:
    """Send the fault's answer; False when the fault only delays and the real answer should follow."""
    if fault == "slow":
        await anyio.sleep(slow_seconds)
        return False
    if fault == "503":
        await _respond(send, 503, {"errors": [{"type": "service_unavailable"}]}, {})
    elif fault == "429":
        await _respond(send, 429, {"errors": [{"type": "too_many_requests"}]}, {})
    elif fault == "502_html":
        headers = [(b"content-type", b"text/html"), (b"content-length", str(len(HTML_502)).encode())]
        await send({"type": "http.response.start", "status": 502, "headers": headers})
        await send({"type": "http.response.body", "body": HTML_502})
    elif fault == "truncate":
        body = b'{"items": [{"id": "1", "name": "Trunc'
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})
    elif fault == "drop":
        # Promise a long body, send a little of it, then fail: the server drops the connection mid-body.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"100000")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"items": [', "more_body": True})
        raise InjectedDrop("fault injection: connection dropped mid-body")
    return True
