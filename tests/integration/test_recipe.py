"""The recipe itself: what rendering may change, nginx accepts it as shipped, and the
locations that are not the main proxy path (the health path, blob uploads)."""

from __future__ import annotations

import difflib
import hashlib
import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from ollama_anyio import AsyncClient

from . import conftest
from ._nginx import RECIPE, render
from .conftest import Cluster, nginx_binary

SERVERS = ["127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"]


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    removed = [line[2:].strip() for line in diff if line.startswith("- ")]
    added = [line[2:].strip() for line in diff if line.startswith("+ ")]
    return removed, added


def test_rendering_replaces_only_the_listen_and_upstream_server_lines() -> None:
    shipped = RECIPE.read_text()
    removed, added = changed_lines(shipped, render(shipped, listen="127.0.0.1:9", servers=SERVERS))
    assert removed == [
        "server 192.0.2.11:11434;",
        "server 192.0.2.12:11434;",
        "server 192.0.2.13:11434;",
        "listen 11434;",
    ]
    assert added == [*(f"server {s};" for s in SERVERS), "listen 127.0.0.1:9;"]


def test_a_variant_changes_exactly_the_directive_it_names() -> None:
    shipped = RECIPE.read_text()
    site = render(shipped, listen="127.0.0.1:9", servers=SERVERS)
    variant = render(shipped, listen="127.0.0.1:9", servers=SERVERS, change={"gzip": "on"})
    assert changed_lines(site, variant) == (["gzip off;"], ["gzip on;"])


@pytest.mark.parametrize("name", ["no_such_directive", "proxy_pass", "server"])
def test_a_variant_of_a_missing_or_repeated_directive_is_refused(name: str) -> None:
    # proxy_pass appears in two locations: changing "it" would be ambiguous.
    with pytest.raises(ValueError, match="lines matching"):
        render(RECIPE.read_text(), listen="127.0.0.1:9", servers=SERVERS, change={name: "x"})


@pytest.mark.nginx
def test_nginx_accepts_the_recipe_exactly_as_shipped(tmp_path: Path) -> None:
    binary = nginx_binary()
    user = "user root;\n" if os.geteuid() == 0 else ""
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"{user}pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n    include {RECIPE};\n}}\n"
    )
    argv = [binary, "-t", "-q", "-p", str(tmp_path), "-c", str(main), "-e", "stderr"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.nginx
def test_health_path_is_answered_by_nginx_without_a_server(cluster: Cluster) -> None:
    with urllib.request.urlopen(f"{cluster.url}/healthz", timeout=10) as response:
        assert (response.status, response.read()) == (200, b"ok\n")
    with urllib.request.urlopen(f"{cluster.url}/", timeout=10) as response:
        assert response.read() == b"Ollama is running"
    assert sum(len(emulator.requests) for emulator in cluster.emulators) == 1


@pytest.mark.nginx
async def test_blob_upload_larger_than_nginx_default_limit_passes_through(
    cluster: Cluster, tmp_path: Path
) -> None:
    blob = tmp_path / "weights.bin"
    data = os.urandom(3 * 1024 * 1024)  # nginx refuses bodies over 1 MiB unless told otherwise
    blob.write_bytes(data)
    async with AsyncClient(cluster.url, timeout=30) as client:
        digest = await client.create_blob(blob)
    assert digest == "sha256:" + hashlib.sha256(data).hexdigest()
    uploads = [
        request
        for emulator in cluster.emulators
        for request in emulator.requests
        if request.method == "POST" and request.path.startswith("/api/blobs/")
    ]
    assert [len(request.body) for request in uploads] == [len(data)]


def test_without_nginx_the_suite_skips_saying_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(conftest, "find_nginx", lambda: None)
    monkeypatch.delenv("OLLAMA_ANYIO_REQUIRE_NGINX", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install nginx-light"):
        nginx_binary()
    # .ci/run sets this: there, a missing nginx is a failure, not a quiet skip.
    monkeypatch.setenv("OLLAMA_ANYIO_REQUIRE_NGINX", "1")
    with pytest.raises(pytest.fail.Exception, match="apt-get install nginx-light"):
        nginx_binary()
