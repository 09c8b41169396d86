"""The ``hh-async`` command (its installed entry point) against the fake HH."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from hh_async.cli.output import Output
from hh_async.cli.parser import build_parser
from hh_async.testing import CLIENT_ID, CLIENT_SECRET, FakeHH, Faults

HH_ASYNC = str(Path(sys.executable).with_name("hh-async"))
CREDENTIALS = ["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET]
UA = ["--user-agent", "Tests/1.0 (dev@example.com)", "--rate", "0"]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeHH]:
    with FakeHH(vacancies=12_000) as running:
        yield running


def hh_async(server: FakeHH, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HH_ASYNC, "--base-url", server.url, *UA, *args],
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,  # type: ignore[call-overload]
    )


Spawn = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Starts the CLI in the background (stderr piped); what still runs at the end of the test is killed,
    and a watchdog kills it after two minutes: a hung CLI fails its test instead of hanging the suite."""
    started: list[tuple[subprocess.Popen[str], threading.Timer]] = []

    def start(server: FakeHH, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
        command = [HH_ASYNC, "--base-url", server.url, *UA, *args]
        process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, **kwargs)
        watchdog = threading.Timer(120, process.kill)
        watchdog.start()
        started.append((process, watchdog))
        return process

    yield start
    for process, watchdog in started:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
        process.communicate()


def wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen[str]) -> None:
    """Polls a condition the test can see (never a fixed sleep), for at most a minute."""
    deadline = time.monotonic() + 60
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"the CLI ended (exit {process.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"still no {what} after 60 s")
        time.sleep(0.02)


@attrs.define
class Gate(Faults):
    """Answers ``searches`` searches, then holds the fake HH (it runs in a thread of its own) until
    ``opened``: a run cannot finish before the test interrupts it, however loaded the machine."""

    searches: int = 0
    opened: threading.Event = attrs.field(factory=threading.Event)

    def pick(self, path: str) -> str | None:
        if path == "/vacancies":
            self.searches -= 1
            if self.searches < 0:
                self.opened.wait(timeout=120)
        return super().pick(path)


def ids_in(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def lines_in(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_search_all_writes_every_match_and_shows_progress(server: FakeHH, tmp_path: Path) -> None:
    out = tmp_path / "all.jsonl"
    done = hh_async(server, "search", "--all", "--jsonl", str(out))
    assert done.returncode == 0, done.stderr
    ids = ids_in(out)
    assert sorted(ids) == sorted(server.dataset.ident(i) for i in range(12_000))
    assert "12000/12000 vacancies 100.0%" in done.stderr  # the progress line, on stderr
    assert json.loads((tmp_path / "all.jsonl.state.json").read_text())["done"] is True


@pytest.fixture
def gated() -> Iterator[tuple[FakeHH, Gate]]:
    """A fake HH of 6000 vacancies: the sweep reads them in about 85 searches (60 pages and its date
    probes); the gate answers 50, then holds the rest until the test opens it."""
    gate = Gate(searches=50)
    with FakeHH(vacancies=6_000, faults=gate) as server:
        yield server, gate
        gate.opened.set()  # even after a failure: a held answer would hold up the server's shutdown


@pytest.mark.parametrize(("stop", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_search_all_resumes_after_ctrl_c_or_sigterm_with_each_vacancy_once(
    gated: tuple[FakeHH, Gate], spawn: Spawn, tmp_path: Path, stop: signal.Signals, status: int
) -> None:
    """SIGTERM (``timeout``, systemd, docker stop) winds the run down as Ctrl-C does: it used to kill
    the process where it stood, a token refresh's save included."""
    server, gate = gated
    out = tmp_path / "all.jsonl"
    running = spawn(server, "search", "--all", "--jsonl", str(out))
    wait_for(lambda: lines_in(out) >= 500, "500 lines in the output", running)
    running.send_signal(stop)
    _, stderr = running.communicate(timeout=60)
    assert running.returncode == status, stderr
    assert "continue with --resume" in stderr
    partial = ids_in(out)
    assert 500 <= len(partial) < 6_000

    gate.opened.set()
    refused = hh_async(server, "search", "--all", "--jsonl", str(out))
    assert refused.returncode == 2 and "--resume" in refused.stderr  # never overwrites a run's output
    resumed = hh_async(server, "search", "--all", "--jsonl", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.startswith(f"{len(partial)}/6000 vacancies")  # progress goes on from the file
    assert "6000/6000 vacancies 100.0%" in resumed.stderr and "warning" not in resumed.stderr
    ids = ids_in(out)
    assert ids[: len(partial)] == partial
    assert len(ids) == len(set(ids)) == 6_000


def test_resume_refuses_another_search_before_any_request(server: FakeHH, tmp_path: Path) -> None:
    out = tmp_path / "recent.jsonl"
    recent = ["--all", "--date-from", "2026-11-01T11:00:00+03:00"]  # the newest hour: one page
    assert hh_async(server, "search", *recent, "--jsonl", str(out)).returncode == 0
    written = out.read_bytes()
    requests = server.app.requests.total()

    other = hh_async(
        server, "search", *recent, "--text", "java", "--area", "1", "--jsonl", str(out), "--resume"
    )
    assert other.returncode == 2, other.stderr
    assert 'area (saved: not given, now: ["1"]), text (saved: not given, now: "java")' in other.stderr
    forgot = hh_async(server, "search", "--all", "--jsonl", str(out), "--resume")
    assert forgot.returncode == 2
    assert 'date_from (saved: "2026-11-01T11:00:00+03:00", now: not given)' in forgot.stderr
    assert server.app.requests.total() == requests and out.read_bytes() == written

    same = hh_async(server, "search", *recent, "--jsonl", str(out), "--resume")
    assert same.returncode == 0, same.stderr
    assert out.read_bytes() == written and "warning" not in same.stderr


def test_an_interrupted_state_write_leaves_the_old_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = Output(tmp_path / "out.jsonl", resume=False)
    with output:
        output.save_state({"cursor": "before"})

        def interrupted(*args: object) -> None:
            raise KeyboardInterrupt

        # Ctrl-C once the new state is written, before it is in place
        monkeypatch.setattr(os, "replace", interrupted)
        with pytest.raises(KeyboardInterrupt):
            output.save_state({"cursor": "after"})
    assert json.loads((tmp_path / "out.jsonl.state.json").read_text()) == {"cursor": "before"}


def test_a_line_cut_short_by_a_crash_is_dropped_on_resume(server: FakeHH, tmp_path: Path) -> None:
    out = tmp_path / "python.jsonl"
    assert hh_async(server, "search", "--text", "python", "--jsonl", str(out)).returncode == 0
    complete = ids_in(out)
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:10]) + lines[10][:25])  # a crash mid-line, state from before it
    state = {"cursor": json.dumps({"operation": "get-vacancies", "arguments": {"text": "python"},
                                   "per_page": 100, "page": 0, "offset": 7})}  # fmt: skip
    (tmp_path / "python.jsonl.state.json").write_text(json.dumps(state))
    resumed = hh_async(server, "search", "--text", "python", "--jsonl", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert ids_in(out) == complete


def test_a_bad_line_in_the_middle_is_refused_not_dropped_with_what_follows(
    server: FakeHH, tmp_path: Path
) -> None:
    """Only a crash's cut last line may be dropped: truncating at a bad line in the middle lost every
    vacancy after it, which the saved state had already counted as written."""
    out = tmp_path / "python.jsonl"
    assert hh_async(server, "search", "--text", "python", "--jsonl", str(out)).returncode == 0
    complete = ids_in(out)
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:10]) + "garbage\n" + "".join(lines[10:20]))
    damaged = out.read_bytes()
    state = {"cursor": json.dumps({"operation": "get-vacancies", "arguments": {"text": "python"},
                                   "per_page": 100, "page": 0, "offset": 20})}  # fmt: skip
    (tmp_path / "python.jsonl.state.json").write_text(json.dumps(state))
    refused = hh_async(server, "search", "--text", "python", "--jsonl", str(out), "--resume")
    assert refused.returncode == 2 and "line 11" in refused.stderr, refused.stderr
    assert out.read_bytes() == damaged
    out.write_text("".join(lines[:20]))  # the user removes the line
    resumed = hh_async(server, "search", "--text", "python", "--jsonl", str(out), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert ids_in(out) == complete


def test_search_without_all_stops_at_the_cap_and_says_so(server: FakeHH) -> None:
    done = hh_async(server, "search", "--filter", "page=5")
    assert done.returncode == 2 and "paginate() sets page itself" in done.stderr
    done = hh_async(server, "search", "--area", "1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2000 and all(json.loads(line)["area"]["id"] == "1" for line in lines[:50])
    assert "--all reads the rest" in done.stderr


def test_call_runs_any_operation_with_typed_arguments(server: FakeHH) -> None:
    one = hh_async(server, "call", "get-vacancy", "vacancy_id=100001")
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout)["id"] == "100001"
    page = hh_async(server, "call", "get-vacancies", "text=python", "per_page=3", "area=1", "area=2")
    body = json.loads(page.stdout)
    assert len(body["items"]) == 3 and body["per_page"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["call", "no-such-operation"], "unknown operation"),
        (["call", "get-vacancy"], "vacancy_id"),
        (["call", "get-vacancies", "per_page=many"], "per_page"),
        (["call", "get-vacancies", "colour=red"], "takes no 'colour'"),
        (["call", "get-vacancies", "text"], "KEY=VALUE"),
        (["search", "--resume"], "--resume needs the --jsonl file"),
        (
            [*CREDENTIALS, "--token-file", "t.json", "auth", "login", "--redirect-uri", "https://my.app/cb"],
            "loopback",
        ),
        (["search", "--date-from", "yesterday"], "--date-from: ISO 8601 expected"),
        (["search", "--all", "--date-to", "2026-13-01"], "--date-to: ISO 8601 expected"),
        (["--base-url", "notaurl", "call", "get-vacancy", "vacancy_id=1"], "--base-url: an http(s) URL"),
    ],
)
def test_bad_usage_is_a_clear_error_with_exit_code_2(server: FakeHH, args: list[str], message: str) -> None:
    done = hh_async(server, *args)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_hh_errors_exit_1_with_hh_s_reason(server: FakeHH) -> None:
    done = hh_async(server, "call", "get-vacancy", "vacancy_id=1")
    assert done.returncode == 1 and "404" in done.stderr and "Traceback" not in done.stderr


def test_auth_app_token_saves_the_token_privately(server: FakeHH, tmp_path: Path) -> None:
    token_file = tmp_path / "app.json"
    credentials = [*CREDENTIALS, "--token-file", str(token_file)]
    done = hh_async(server, *credentials, "auth", "app-token")
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = json.loads(token_file.read_text())["access_token"]
    assert token not in done.stdout + done.stderr  # secrets are never printed
    me = hh_async(server, "--token-file", str(token_file), "call", "get-current-user-info")
    assert me.returncode == 0, me.stderr


@pytest.mark.parametrize("where", ["a directory", "a path under a file"])
def test_a_token_file_that_cannot_be_saved_is_refused_before_logging_in(
    server: FakeHH, tmp_path: Path, where: str
) -> None:
    """Checked afterwards, the login was done, its code spent and the tokens lost with a traceback."""
    (tmp_path / "plain").write_text("")
    token_file = tmp_path if where == "a directory" else tmp_path / "plain" / "me.json"
    asked = server.app.requests.total()
    for flow in (["auth", "login", "--no-browser"], ["auth", "app-token"]):
        done = hh_async(server, *CREDENTIALS, "--token-file", str(token_file), *flow)
        assert done.returncode == 2 and "cannot save tokens" in done.stderr, done.stderr
        assert "Open this page" not in done.stderr and "Traceback" not in done.stderr
    assert server.app.requests.total() == asked


def test_auth_login_takes_hh_s_redirect_on_a_loopback_listener(
    server: FakeHH, spawn: Spawn, tmp_path: Path
) -> None:
    token_file = tmp_path / "me.json"
    credentials = [*CREDENTIALS, "--token-file", str(token_file)]
    login = spawn(
        server, *credentials, "auth", "login", "--no-browser", env={**os.environ, "BROWSER": "false"}
    )
    assert login.stderr is not None
    assert login.stderr.readline().startswith("Open this page")
    url = login.stderr.readline().strip()
    assert url.startswith(server.url + "/oauth/authorize?") and "code_challenge=" in url
    with httpx.Client(follow_redirects=True) as browser:  # the user agrees; HH redirects to the listener
        page = browser.get(url)
    assert page.status_code == 200 and "Logged in" in page.text
    _, rest = login.communicate(timeout=60)
    assert login.returncode == 0, rest
    pair = json.loads(token_file.read_text())
    assert pair["access_token"] and pair["refresh_token"]
    me = hh_async(server, *credentials, "call", "get-current-user-info")
    assert me.returncode == 0, me.stderr


def test_values_argparse_can_check_are_refused_before_any_request(server: FakeHH) -> None:
    requests = server.app.requests.total()
    for args in (["search", "--all", "--date-from", "yesterday"], ["--base-url", "notaurl", "search"]):
        done = hh_async(server, *args)
        assert done.returncode == 2 and "error: argument" in done.stderr, done.stderr
    environment = {**os.environ, "HH_BASE_URL": "notaurl"}
    from_env = subprocess.run([HH_ASYNC, *UA, "search"], env=environment, capture_output=True, text=True)
    assert from_env.returncode == 2 and "--base-url: an http(s) URL" in from_env.stderr, from_env.stderr
    assert server.app.requests.total() == requests


@pytest.mark.parametrize(
    "command",
    [["call", "get-vacancies", "per_page=100"], ["search", "--no-progress"]],  # more than a pipe holds
    ids=["call", "search"],
)
def test_a_reader_that_leaves_early_ends_the_command_quietly(
    server: FakeHH, spawn: Spawn, command: list[str]
) -> None:
    """``hh-async ... | head``: no traceback, and 141 like any tool stopped by SIGPIPE (`set -o pipefail`
    sees the output was cut short)."""
    running = spawn(server, *command, stdout=subprocess.PIPE)
    assert running.stdout is not None and running.stderr is not None
    assert running.stdout.readline()  # what `head -1` takes, then it leaves
    running.stdout.close()
    stderr = running.stderr.read()
    assert running.wait(timeout=60) == 141, stderr
    assert stderr == ""


def test_the_examples_in_the_help_are_commands_that_parse() -> None:
    for command in ([], ["auth"], ["auth", "login"], ["auth", "app-token"]):
        shown = subprocess.run([HH_ASYNC, *command, "--help"], capture_output=True, text=True, check=True)
        commands = [line.partition("#")[0].strip() for line in shown.stdout.splitlines()]
        examples = [shlex.split(c) for c in commands if c.startswith("hh-async ") and "..." not in c]
        if command:  # the auth helps show how to log in
            assert any(words[-2:] == ["auth", "login"] for words in examples), shown.stdout
        assert examples
        for words in examples:
            try:
                build_parser(None).parse_args(words[1:])
            except SystemExit:
                pytest.fail(f"`{' '.join(words)}` (in `hh-async {' '.join(command)} --help`) does not parse")


def test_every_option_has_a_help_text() -> None:
    def without_help(parser: argparse.ArgumentParser, path: str) -> Iterator[str]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, command in action.choices.items():
                    yield from without_help(command, f"{path} {name}")
            elif action.option_strings and not action.help:
                yield f"{path} {action.option_strings[0]}"

    assert list(without_help(build_parser(None), "hh-async")) == []
