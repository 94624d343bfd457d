"""A real nginx process serving the shipped recipe, and the rendering of that recipe.

:func:`render` changes the recipe in the ways its header allows and no others: the
``listen`` line, the upstream's ``server`` lines, and, for a test of one directive's effect,
that one directive's value. Every replacement must match exactly where it is expected, so a
recipe edited out of that shape fails loudly instead of being tested half-substituted.
:class:`Nginx` runs the result in its own prefix directory, in the foreground, and stops it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

__all__ = ["INSTALL_HINT", "RECIPE", "Nginx", "find_nginx", "free_port", "render"]

RECIPE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "ollama.conf"

INSTALL_HINT = (
    "nginx is not installed, so the nginx integration tests are skipped: install it with "
    "`apt-get install nginx-light` (Debian, Ubuntu) or `brew install nginx` (macOS); the "
    "tests look for `nginx` on PATH and in /usr/sbin"
)

_LISTEN = re.compile(r"^(?P<indent>[ \t]*)listen[ \t]+[^;\n]+;", re.MULTILINE)
# An upstream's server line (`server HOST:PORT ...;`), not a `server {` block.
_SERVER = re.compile(r"^(?P<indent>[ \t]*)server[ \t]+[^\s;{]+:\d+[^;\n]*;[^\n]*\n", re.MULTILINE)

# Test-only settings around the recipe, which is included unchanged but for the site lines:
# paths inside the prefix, an access log that names the upstream and the connection, and a
# stub_status server on a second port from which tests read nginx's idle connection count.
_MAIN = """\
worker_processes 1;
{user}pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{
    worker_connections 2048;
}}
http {{
    log_format tests '$request_method $request_uri $status conn=$connection '
                     'upstream=$upstream_addr encoding=$sent_http_content_encoding';
    access_log {prefix}/access.log tests;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;

    include {prefix}/ollama.conf;

    server {{
        listen 127.0.0.1:{status_port};
        location = /status {{
            stub_status;
        }}
    }}
}}
"""


def find_nginx() -> str | None:
    """The nginx binary: on PATH, or where distributions install it outside a user's PATH."""
    found = shutil.which("nginx")
    if found is not None:
        return found
    for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _replace_once(pattern: re.Pattern[str], text: str, line: str) -> str:
    """``text`` with the one match of ``pattern`` replaced by ``line``, indented alike."""
    matches = list(pattern.finditer(text))
    if len(matches) != 1:
        raise ValueError(f"the recipe has {len(matches)} lines matching {pattern.pattern!r}")
    match = matches[0]
    return text[: match.start()] + match["indent"] + line + text[match.end() :]


def render(
    recipe: str,
    *,
    listen: str,
    servers: Sequence[str],
    change: Mapping[str, str] | None = None,
) -> str:
    """The recipe with its site lines, and optionally some directives, replaced.

    Args:
        recipe: the text of ``deploy/nginx/ollama.conf``.
        listen: the new ``listen`` address, e.g. ``127.0.0.1:8080``.
        servers: the upstream's servers, each ``HOST:PORT``.
        change: directive name to its new value, for a variant that tests that directive
            (each must appear exactly once in the recipe).

    Raises:
        ValueError: a line to replace is missing or ambiguous.
    """
    text = _replace_once(_LISTEN, recipe, f"listen {listen};")
    found = list(_SERVER.finditer(text))
    if not found or found[-1].end() - found[0].start() != sum(len(m[0]) for m in found):
        raise ValueError("the recipe's upstream server lines are not one block")
    indent = found[0]["indent"]
    block = "".join(f"{indent}server {address};\n" for address in servers)
    text = text[: found[0].start()] + block + text[found[-1].end() :]
    for name, value in (change or {}).items():
        directive = re.compile(rf"^(?P<indent>[ \t]*){re.escape(name)}[ \t]+[^;\n]*;", re.M)
        text = _replace_once(directive, text, f"{name} {value};")
    return text


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:  # not Linux, or a kernel without the file: nothing to check
        return []
    return [int(child) for child in text.split()]


class Nginx:
    """One nginx master (and its worker) in the foreground, in a prefix of its own.

    Args:
        binary: the nginx executable.
        prefix: an empty directory for the configuration, logs, pid file and temp files.
        site: the rendered recipe for a given listen port.
    """

    def __init__(self, binary: str, prefix: Path, site: Callable[[int], str]) -> None:
        self.binary = binary
        self.prefix = prefix
        self._site = site
        self.port = 0
        self.status_port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The base URL clients use."""
        return f"http://127.0.0.1:{self.port}"

    def error_log(self) -> str:
        """nginx's error log so far (with its start-up output)."""
        parts = [self.prefix / "error.log", self.prefix / "stderr.log"]
        return "".join(p.read_text(errors="replace") for p in parts if p.exists())

    def access_log(self) -> list[str]:
        """The access log's lines so far, in the ``tests`` format of the test config."""
        path = self.prefix / "access.log"
        return path.read_text().splitlines() if path.exists() else []

    def start(self) -> None:
        """Start nginx and wait (10 s at most) until it answers on its status port.

        Raises:
            RuntimeError: nginx exited or did not answer; the message holds its error log.
        """
        for _ in range(3):  # another process may take a free port before nginx binds it
            self.port, self.status_port = free_port(), free_port()
            user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach the prefix
            main = _MAIN.format(user=user, prefix=self.prefix, status_port=self.status_port)
            (self.prefix / "nginx.conf").write_text(main)
            (self.prefix / "ollama.conf").write_text(self._site(self.port))
            # In the foreground (a child we can wait for), its early errors in the prefix.
            argv = [self.binary, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf")]
            argv += ["-e", str(self.prefix / "error.log"), "-g", "daemon off;"]
            with (self.prefix / "stderr.log").open("wb") as stderr:
                self._process = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                )
            if self._wait_ready():
                return
            self._process.wait()
            self._process = None
            if "Address already in use" not in self.error_log():
                break
        raise RuntimeError(f"nginx did not start:\n{self.error_log()}")

    def _wait_ready(self) -> bool:
        assert self._process is not None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self._process.poll() is None:
            with contextlib.suppress(OSError):
                self.status()
                return True
            time.sleep(0.02)  # a bounded poll for nginx to bind, not a wait for an outcome
        return False

    def status(self) -> dict[str, int]:
        """stub_status counters: ``active``, ``reading``, ``writing``, ``waiting``."""
        url = f"http://127.0.0.1:{self.status_port}/status"
        with urllib.request.urlopen(url, timeout=5) as response:
            text: str = response.read().decode()
        values = dict(re.findall(r"(Active connections|Reading|Writing|Waiting):\s*(\d+)", text))
        return {
            "active": int(values["Active connections"]),
            "reading": int(values["Reading"]),
            "writing": int(values["Writing"]),
            "waiting": int(values["Waiting"]),
        }

    def wait_until(self, condition: Callable[[], bool], what: str, seconds: float = 10) -> None:
        """Poll ``condition`` (every 20 ms, ``seconds`` at most) until it holds.

        Raises:
            AssertionError: it did not hold in time; the message names ``what``.
        """
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"nginx: {what} did not happen within {seconds} s")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop nginx (fast shutdown) and check that no process of it is left."""
        process, self._process = self._process, None
        if process is None:
            return
        workers = _children(process.pid)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"nginx did not stop on SIGTERM:\n{self.error_log()}") from None
        left = [pid for pid in workers if Path(f"/proc/{pid}").exists()]
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert not left, f"nginx worker(s) {left} outlived the master"


@contextlib.contextmanager
def running(nginx: Nginx) -> Iterator[Nginx]:
    """Start ``nginx`` for the block, and stop it at its end."""
    nginx.start()
    try:
        yield nginx
    finally:
        nginx.stop()
