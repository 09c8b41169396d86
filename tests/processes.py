"""Several OS processes started together for the tests of state they share (Redis tokens, throttle)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence

import anyio.to_thread


async def run_together(
    script: str, args: Sequence[str], count: int, env: Mapping[str, str], timeout: float
) -> list[tuple[int, str]]:
    """Start ``count`` Python processes of ``script``, wait until each has printed ``ready`` (its setup
    done), tell them all ``go`` at once, and return each one's exit code and output. None outlives the
    call, whatever happens (a failed assertion, a timeout, a cancelled test)."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=dict(env),
        )
        for _ in range(count)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert await anyio.to_thread.run_sync(process.stdout.readline) == "ready\n"
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [await anyio.to_thread.run_sync(p.communicate, None, timeout) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return [(process.returncode, out) for process, (out, _err) in zip(processes, outputs, strict=True)]
