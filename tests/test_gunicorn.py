"""A real gunicorn with ``--preload`` (issue 18): a blocking client warmed up in the master.

The WSGI app's module makes a `Client` and calls it at import, as a preloaded app warms up: the
master then has a portal thread and a pooled connection when it forks its workers. Every
request a worker serves calls the client; each must answer (a worker's first call used to hang
forever, the portal's thread being the master's), on both portal backends. gunicorn's output
must show no traceback. Every wait is bounded.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from ollama_anyio.testing import run_emulator_in_thread

pytest.importorskip("gunicorn")

WAIT = 60.0
APP = """
import os

import ollama_anyio

client = ollama_anyio.Client(os.environ["EMULATOR_URL"], backend=os.environ["PORTAL"])
VERSION = client.version()  # warmed up in the master: a portal thread, a pooled connection


def app(environ, start_response):
    answer = client.version()
    assert answer == VERSION
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%d %s" % (os.getpid(), answer)).encode()]
"""


def test_a_preloaded_blocking_client_works_in_every_gunicorn_worker(
    tmp_path: Path, portal_backend: str
) -> None:
    (tmp_path / "forked_app.py").write_text(APP)
    with run_emulator_in_thread() as emu:
        command = [
            sys.executable, "-m", "gunicorn", "--preload", "--workers", "2",
            "--bind", "127.0.0.1:0", "--chdir", str(tmp_path), "--graceful-timeout", "5",
            "forked_app:app",
        ]  # fmt: skip
        # HOME: where newer gunicorns put their control socket, kept out of the user's.
        env = {"EMULATOR_URL": emu.url, "PORTAL": portal_backend, "HOME": str(tmp_path)}
        process = subprocess.Popen(
            command,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        lines: queue.Queue[str] = queue.Queue()
        log: list[str] = []

        def read() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                lines.put(line)
            lines.put("")  # the end

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            url, booted = None, 0
            while url is None or booted < 2:
                line = lines.get(timeout=WAIT)
                assert line, "gunicorn stopped:\n" + "".join(log)
                log.append(line)
                if found := re.search(r"Listening at: (http://\S+)", line):
                    url = found.group(1)
                booted += "Booting worker" in line
            pids = set()
            with httpx.Client(timeout=WAIT) as http:
                for _ in range(20):
                    answer = http.get(url)
                    assert answer.status_code == 200, answer.text
                    pid, version = answer.text.split()
                    assert version == emu.emulator.version
                    pids.add(pid)
            assert pids
        finally:
            process.terminate()
            try:
                process.wait(WAIT)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(WAIT)
                reader.join(WAIT)
                assert process.stderr is not None
                process.stderr.close()
        while True:
            try:
                line = lines.get_nowait()
            except queue.Empty:
                break
            log.append(line)
    output = "".join(log)
    assert "Traceback" not in output, output
    assert "Exception ignored" not in output, output
    assert "Worker exiting" in output or "Shutting down" in output, output
