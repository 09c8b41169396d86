"""``hh-async``: the HH API from a shell.

    hh-async search --text python --area 1 --all --jsonl vacancies.jsonl     # every match, past the cap
    hh-async search ... --jsonl vacancies.jsonl --resume                      # after Ctrl-C or a failure
    hh-async call get-vacancy vacancy_id=100001                                # any operation, JSON out
    hh-async auth login --client-id ID --client-secret SECRET --token-file me.json
    hh-async auth app-token --client-id ID --client-secret SECRET --token-file app.json
    hh-async fake-server --port 8800                                           # the offline HH
    hh-async --base-url http://127.0.0.1:8800 search --text python             # ... and against it

Settings may come from the environment: HH_BASE_URL, HH_USER_AGENT, HH_TOKEN_FILE, HH_CLIENT_ID,
HH_CLIENT_SECRET. Exit codes: 0 done, 1 HH or the network failed, 2 bad usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sys
import time
import webbrowser
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urlsplit

import httpx

from . import __version__
from .auth import (
    AUTHORIZE_URL,
    TOKEN_URL,
    AppToken,
    StaticToken,
    UserToken,
    authorization_request,
    exchange_code,
)
from .client import DEFAULT_BASE_URL, HHClient
from .errors import HHError
from .operations import Operation, Parameter, registry
from .pagination import Cursor, Paginator
from .search_all import Progress, VacancySweep, seen_key
from .throttle import Throttle
from .tokens import JsonFileTokenStore, TokenFileError

DEFAULT_USER_AGENT = f"hh-async-cli/{__version__}"


class UsageError(Exception):
    """A wrong command line: exit 2 with the message."""


# --- the command line -------------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    env = os.environ.get
    top = argparse.ArgumentParser(
        prog="hh-async", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    top.add_argument(
        "--base-url", default=env("HH_BASE_URL", DEFAULT_BASE_URL), help="the API (or a fake HH)"
    )
    top.add_argument(
        "--user-agent",
        default=env("HH_USER_AGENT", DEFAULT_USER_AGENT),
        help="HH wants 'AppName/1.0 (you@example.com)'",
    )
    top.add_argument("--token-file", default=env("HH_TOKEN_FILE"), help="a token saved by `auth`")
    top.add_argument("--client-id", default=env("HH_CLIENT_ID"))
    top.add_argument("--client-secret", default=env("HH_CLIENT_SECRET"))
    top.add_argument(
        "--rate", type=float, default=8.0, help="requests per second at most (HH bans above ~10; 0: no limit)"
    )
    top.add_argument("--version", action="version", version=f"hh-async {__version__}")
    commands = top.add_subparsers(dest="command", required=True)

    search = commands.add_parser("search", help="search vacancies; --all reads past HH's 2000 cap")
    search.add_argument("--text")
    search.add_argument("--area", action="append", help="repeatable: --area 1 --area 2")
    search.add_argument("--professional-role")
    search.add_argument("--date-from", help="ISO 8601: 2026-11-01 or 2026-11-01T10:00:00+03:00")
    search.add_argument("--date-to")
    search.add_argument(
        "--filter", action="append", default=[], metavar="KEY=VALUE", help="any other get-vacancies parameter"
    )
    search.add_argument("--all", action="store_true", help="every match, in date slices under the cap")
    search.add_argument("--jsonl", type=Path, help="write one vacancy per line here (default: stdout)")
    search.add_argument("--resume", action="store_true", help="continue the --jsonl file's interrupted run")
    search.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)

    call = commands.add_parser("call", help="call any operation: call get-vacancy vacancy_id=100001")
    call.add_argument("operation", help="an operationId (see `hh-async operations`)")
    call.add_argument("arguments", nargs="*", metavar="KEY=VALUE", help="repeat a key for a list; body=@file")

    commands.add_parser("operations", help="list the operationIds")

    auth = commands.add_parser("auth", help="obtain tokens").add_subparsers(dest="flow", required=True)
    login = auth.add_parser("login", help="log a user in (authorization code + PKCE, loopback redirect)")
    login.add_argument("--port", type=int, default=0, help="port of the loopback redirect listener")
    login.add_argument(
        "--redirect-uri", help="the loopback URL registered for your app, e.g. http://127.0.0.1:8765/callback"
    )
    login.add_argument("--no-browser", action="store_true", help="print the URL, do not open a browser")
    login.add_argument("--role", choices=["applicant", "employer"])
    auth.add_parser("app-token", help="obtain the application token (client_credentials)")

    fake = commands.add_parser("fake-server", help="run the fake HH on loopback (for demos and tests)")
    fake.add_argument("--port", type=int, default=8800)
    fake.add_argument("--vacancies", type=int, default=10_000)
    fake.add_argument("--fault-rate", type=float, default=0.0)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "fake-server":
        from .testing.__main__ import main as fake_main

        fake_main(
            [
                "--port",
                str(args.port),
                "--vacancies",
                str(args.vacancies),
                "--fault-rate",
                str(args.fault_rate),
            ]
        )
        return 0
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        resume = " (continue with --resume)" if getattr(args, "jsonl", None) else ""
        print(f"\ninterrupted{resume}", file=sys.stderr)
        return 130
    except UsageError as exc:
        print(f"hh-async: {exc}", file=sys.stderr)
        return 2
    except (HHError, httpx.HTTPError, TokenFileError) as exc:
        print(f"hh-async: {exc}", file=sys.stderr)
        return 1


async def run(args: argparse.Namespace) -> int:
    if args.command == "operations":
        for op_id, operation in sorted(registry().items()):
            paged = " (paged)" if operation.paginated else ""
            print(f"{op_id:<48} {operation.method:<6} {operation.path}{paged}")
        return 0
    if args.command == "auth":
        return await (login(args) if args.flow == "login" else app_token(args))
    throttle = Throttle(rate=args.rate or None)
    async with HHClient(
        user_agent=args.user_agent, base_url=args.base_url, auth=_auth(args), throttle=throttle
    ) as hh:
        if args.command == "call":
            return await call(hh, args)
        return await search(hh, args)


def _auth(args: argparse.Namespace) -> httpx.Auth | None:
    if not args.token_file:
        return None
    store = JsonFileTokenStore(args.token_file)
    data = _read_token_file(Path(args.token_file))
    if data.get("refresh_token") and args.client_id and args.client_secret:
        return UserToken(args.client_id, args.client_secret, store, token_url=_token_url(args))
    return StaticToken(str(data["access_token"]))


def _read_token_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise ValueError("no access_token in it")
    except (OSError, ValueError) as exc:
        raise TokenFileError(f"cannot use the token file {path}: {exc}") from None
    return data


def _token_url(args: argparse.Namespace) -> str:
    return TOKEN_URL if args.base_url == DEFAULT_BASE_URL else args.base_url.rstrip("/") + "/token"


def _authorize_url(args: argparse.Namespace) -> str:
    return (
        AUTHORIZE_URL if args.base_url == DEFAULT_BASE_URL else args.base_url.rstrip("/") + "/oauth/authorize"
    )


def _credentials(args: argparse.Namespace) -> tuple[str, str]:
    if not (args.client_id and args.client_secret):
        raise UsageError("--client-id and --client-secret (or HH_CLIENT_ID/HH_CLIENT_SECRET) are required")
    if not args.token_file:
        raise UsageError("--token-file (or HH_TOKEN_FILE) says where to save the token")
    return args.client_id, args.client_secret


# --- call ---------------------------------------------------------------------------------------------------


async def call(hh: HHClient, args: argparse.Namespace) -> int:
    operation = registry().get(args.operation)
    if operation is None:
        raise UsageError(f"unknown operation {args.operation!r}: `hh-async operations` lists them")
    arguments = coerce_arguments(operation, _pairs(args.arguments))
    method = getattr(hh, operation.function)
    try:
        result = await method(**arguments)
    except TypeError as exc:
        raise UsageError(f"{args.operation}: {exc}") from None
    if result is not None:
        print(json.dumps(plain(result), ensure_ascii=False, indent=2))
    return 0


def _pairs(items: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"arguments are KEY=VALUE, got {item!r}")
        pairs.append((key.replace("-", "_"), value))
    return pairs


def coerce_arguments(operation: Operation, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Text from the command line to what the method takes, by the registry's parameter types: numbers,
    booleans, lists (a repeated key), enum values checked, and the body as JSON (``body=@file.json``)."""
    parameters = operation.by_python_name
    result: dict[str, Any] = {}
    for key, text in pairs:
        if key == "body" and operation.request_body is not None:
            result["body"] = _json_argument(text)  # sent as it is: no model in between to drop a field
            continue
        parameter = parameters.get(key)
        if parameter is None:
            names = ", ".join(sorted([*parameters, *(["body"] if operation.request_body else [])]))
            raise UsageError(f"{operation.operation_id} takes no {key!r}; it takes {names}")
        try:
            value = _scalar(parameter, text)
        except ValueError as exc:
            raise UsageError(f"{key}: {exc}") from None
        if parameter.repeated:
            result.setdefault(key, []).append(value)
        else:
            result[key] = value
    return result


def _scalar(parameter: Parameter, text: str) -> Any:
    if parameter.type == "integer":
        return int(text)
    if parameter.type == "number":
        return float(text)
    if parameter.type == "boolean":
        if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"true or false expected, got {text!r}")
        return text.lower() in ("true", "1", "yes")
    if parameter.enum and text not in parameter.enum:
        raise ValueError(f"one of {', '.join(parameter.enum)} expected, got {text!r}")
    return text


def _json_argument(text: str) -> Any:
    try:
        source = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
        return json.loads(source)
    except OSError as exc:
        raise UsageError(f"body: cannot read {text[1:]}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"body: not JSON ({exc})") from None


def plain(value: Any) -> Any:
    """A model (or list of them) as JSON data."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else value


# --- search -------------------------------------------------------------------------------------------------


async def search(hh: HHClient, args: argparse.Namespace) -> int:
    output = Output(args.jsonl, resume=args.resume)
    progress = ProgressLine(sys.stderr, enabled=args.progress)
    state = output.load_state()  # and the ids already written: the run goes on from them
    reader = Reader(hh, args, state, output.seen, progress)
    with output:
        saved = reader.position()
        try:
            async for vacancy in reader.items:
                if output.write(vacancy):
                    saved = reader.position()
                    if output.written % 100 == 0:
                        output.save_state(saved)
                        if not args.all:
                            progress.update_count(output.written)
            output.save_state({**reader.position(), "done": True})
        except BaseException:
            output.save_state(saved)  # the position after the last line written: nothing lost, nothing twice
            raise
        finally:
            progress.finish()
    reader.warn_if_incomplete(output.written)
    return 0


class Reader:
    """The vacancies of a search: ``paginate`` (up to the cap), or with ``--all`` the sweep past it; and
    the position to resume from. Makes no request until iterated."""

    def __init__(
        self,
        hh: HHClient,
        args: argparse.Namespace,
        state: dict[str, Any] | None,
        written: set[int | str],
        progress: ProgressLine,
    ) -> None:
        mode = "sweep" if args.all else "cursor"
        if state is not None and mode not in state:
            raise UsageError(f"the state file is not from a run {'with' if args.all else 'without'} --all")
        self.sweep: VacancySweep | None = None
        self.pages: Paginator | None = None
        try:
            if args.all:
                # The sweep keeps its own set: it marks an id before the output writes it.
                options: dict[str, Any] = {"resume": state["sweep"]} if state else _search_filters(args)
                self.sweep = hh.search_all_vacancies(progress=progress.update, seen=set(written), **options)
                self.items: AsyncIterator[Any] = aiter(self.sweep)
                saved_query = self.sweep.state["filters"]
            else:
                cursor = Cursor.from_json(state["cursor"]) if state else None
                filters = {} if cursor else _search_filters(args)
                self.pages = hh.paginate(None if cursor else hh.get_vacancies, cursor=cursor, **filters)
                self.items = aiter(self.pages)
                saved_query = self.pages.arguments
        except (TypeError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        if state is not None:
            _refuse_another_search(saved_query, _search_filters(args))
            if self.sweep is not None:
                progress.update(self.sweep.report)  # the line starts from what the file holds

    def position(self) -> dict[str, Any]:
        if self.sweep is not None:
            return {"sweep": self.sweep.state}
        assert self.pages is not None
        return {"cursor": self.pages.cursor.to_json()}

    def warn_if_incomplete(self, written: int) -> None:
        if self.sweep is not None:
            report = self.sweep.report
            if report.over_cap:
                hidden = ", ".join(f"{a}..{b} ({n})" for a, b, n in report.over_cap)
                print(f"warning: slices over the cap were read in part: {hidden}", file=sys.stderr)
            if report.unsettled:  # read again and again, and still changing: some may be missed
                moving = ", ".join(f"{a}..{b}" for a, b in report.unsettled)
                warning = f"warning: slices kept changing while read, some may be missed: {moving}"
                print(warning, file=sys.stderr)
        if self.pages is not None and self.pages.truncated:
            note = f"note: HH found {self.pages.found}; its cap allowed {written}: --all reads the rest"
            print(note, file=sys.stderr)


def _refuse_another_search(saved: Mapping[str, Any], given: Mapping[str, Any]) -> None:
    """``--resume`` continues the saved search: with another query the file would mix two searches."""
    saved, given = _as_json(saved), _as_json(given)

    def shown(query: Mapping[str, Any], name: str) -> str:
        return json.dumps(query[name], ensure_ascii=False) if name in query else "not given"

    differences = [
        f"{name} (saved: {shown(saved, name)}, now: {shown(given, name)})"
        for name in sorted(saved.keys() | given.keys())
        if saved.get(name) != given.get(name)
    ]
    if differences:
        raise UsageError(
            "--resume continues the saved search with the same options; this one differs in "
            + ", ".join(differences)
        )


def _as_json(query: Mapping[str, Any]) -> Any:
    """The query as the state file holds it (enums as their values, tuples as lists)."""
    return json.loads(json.dumps(dict(query), ensure_ascii=False))


def _search_filters(args: argparse.Namespace) -> dict[str, Any]:
    named = {
        "text": args.text,
        "area": args.area,
        "professional_role": args.professional_role,
        "date_from": args.date_from,
        "date_to": args.date_to,
    }
    filters = {k: v for k, v in named.items() if v is not None}
    operation = registry()["get-vacancies"]
    filters.update(coerce_arguments(operation, _pairs(args.filter)))
    return filters


class Output:
    """The JSONL file (or stdout) and the state beside it: ``<file>.state.json``.

    Lines are whole or dropped: on ``--resume`` a line cut short by a crash is removed, and the ids already
    written are skipped if HH sends them again."""

    def __init__(self, path: Path | None, *, resume: bool) -> None:
        self.path = path
        self.resume = resume
        self.state_path = path.with_name(path.name + ".state.json") if path else None
        self.seen: set[int | str] = set()
        self.written = 0
        self._whole = 0  # bytes of whole lines in the file, on --resume
        self._stream: IO[str] | None = None
        if path is None:
            if resume:
                raise UsageError("--resume needs the --jsonl file of the interrupted run")
            return
        if path.exists() and path.stat().st_size and not resume:
            raise UsageError(f"{path} exists: add --resume to continue it, or choose another file")
        if resume and not (self.state_path and self.state_path.exists()):
            raise UsageError(f"nothing to resume: {self.state_path} is missing")

    def load_state(self) -> dict[str, Any] | None:
        """The saved state, and the ids already written (``seen``, ``written``); changes nothing yet."""
        if not self.resume or self.state_path is None:
            return None
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {self.state_path}: {exc}") from None
        if not isinstance(state, dict):
            raise UsageError(f"{self.state_path} is not a state file")
        if self.path is not None and self.path.exists():
            self._read_written()
        return state

    def __enter__(self) -> Output:
        if self.path is None:
            self._stream = sys.stdout
            return self
        if self.resume and self.path.exists():
            with self.path.open("r+b") as file:
                file.truncate(self._whole)  # drop a line cut short by a crash
        self._stream = self.path.open("a", encoding="utf-8")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stream is not None and self._stream is not sys.stdout:
            self._stream.close()

    def _read_written(self) -> None:
        assert self.path is not None
        with self.path.open("rb") as lines:
            for line in lines:
                try:
                    ident = json.loads(line)["id"]
                except (ValueError, KeyError, TypeError):
                    break
                if not line.endswith(b"\n"):
                    break
                self.seen.add(seen_key(ident))
                self._whole += len(line)
        self.written = len(self.seen)

    def write(self, vacancy: Any) -> bool:
        """Write one vacancy; False if its id was written before."""
        assert self._stream is not None
        key = seen_key(getattr(vacancy, "id", ""))
        if key in self.seen and self.path is not None:
            return False
        if self.path is not None:
            self.seen.add(key)
        self._stream.write(json.dumps(plain(vacancy), ensure_ascii=False) + "\n")
        self.written += 1
        return True

    def save_state(self, state: dict[str, Any]) -> None:
        if self.state_path is None or self._stream is None:
            return
        self._stream.flush()
        os.fsync(self._stream.fileno())  # the lines are on disk before the state that counts them
        # A new file replaces the old one whole: a Ctrl-C (or a crash) mid-write leaves the old state intact.
        temporary = self.state_path.with_name(self.state_path.name + ".tmp")
        with temporary.open("w", encoding="utf-8") as file:
            file.write(json.dumps(state, ensure_ascii=False))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.state_path)


class ProgressLine:
    """``1234/100000 vacancies, 12 slices to go`` on stderr: redrawn in place on a terminal, a line every
    few seconds otherwise (logs)."""

    def __init__(self, stream: IO[str], *, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        self.tty = stream.isatty()
        self._last = -math.inf  # the first line shows at once
        self._text = ""

    def update(self, progress: Progress) -> None:
        share = f" {100 * progress.read / progress.found:5.1f}%" if progress.found else ""
        pending = f", {progress.slices_pending} slices to go" if progress.slices_pending else ""
        self._show(f"{progress.read}/{progress.found} vacancies{share}{pending}")

    def update_count(self, count: int) -> None:
        self._show(f"{count} vacancies")

    def _show(self, text: str, force: bool = False) -> None:
        self._text = text
        now = time.monotonic()
        if not self.enabled or (not force and now - self._last < (0.1 if self.tty else 2.0)):
            return
        self._last = now
        self.stream.write(f"\r{text}\x1b[K" if self.tty else f"{text}\n")
        self.stream.flush()

    def finish(self) -> None:
        if self._text:
            self._show(self._text, force=True)
            if self.tty and self.enabled:
                self.stream.write("\n")


# --- auth ---------------------------------------------------------------------------------------------------


async def app_token(args: argparse.Namespace) -> int:
    client_id, client_secret = _credentials(args)
    auth = AppToken(client_id, client_secret, JsonFileTokenStore(args.token_file), token_url=_token_url(args))
    try:
        await auth.token()
    finally:
        await auth.aclose()
    print(f"application token saved to {args.token_file}", file=sys.stderr)
    return 0


async def login(args: argparse.Namespace) -> int:
    client_id, client_secret = _credentials(args)
    port = args.port
    if args.redirect_uri:  # the listener must be where HH will send the browser
        target = urlsplit(args.redirect_uri)
        if target.scheme != "http" or target.hostname not in ("127.0.0.1", "localhost") or not target.port:
            raise UsageError(
                "--redirect-uri must be a loopback URL with a port: http://127.0.0.1:8765/callback"
            )
        port = target.port
    async with _redirect_listener(port) as (listener_uri, codes):
        redirect_uri = args.redirect_uri or listener_uri
        request = authorization_request(
            client_id, redirect_uri, role=args.role, authorize_url=_authorize_url(args)
        )
        print(f"Open this page to log in:\n{request.url}", file=sys.stderr, flush=True)
        if not args.no_browser:
            webbrowser.open(request.url)
        query = await codes.get()
    if "error" in query:
        print(f"hh-async: HH refused the login: {query['error']}", file=sys.stderr)
        return 1
    try:
        request.check_state(query.get("state"))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    auth = await exchange_code(
        request,
        query.get("code", ""),
        client_id=client_id,
        client_secret=client_secret,
        store=JsonFileTokenStore(args.token_file),
        token_url=_token_url(args),
    )
    await auth.aclose()
    print(f"logged in; tokens saved to {args.token_file}", file=sys.stderr)
    return 0


@contextlib.asynccontextmanager
async def _redirect_listener(port: int) -> AsyncIterator[tuple[str, asyncio.Queue[dict[str, str]]]]:
    """A one-page HTTP server on 127.0.0.1 that takes HH's redirect (``?code=...&state=...``)."""
    codes: asyncio.Queue[dict[str, str]] = asyncio.Queue()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, ValueError, asyncio.IncompleteReadError):
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b" ", 2)[1].decode("ascii", "replace")
            query = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
            if "code" in query or "error" in query:
                body = b"Logged in: you can close this window and return to the terminal.\n"
                codes.put_nowait(query)
            else:
                body = b"Waiting for HH's redirect.\n"
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{bound}/callback", codes


if __name__ == "__main__":
    sys.exit(main())
