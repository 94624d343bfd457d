"""ollama_anyio.ray without Ray: nginx upstreams as servers, bad settings refused, no import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ollama_anyio import RequestError
from ollama_anyio.ray import chat, embed, generate, servers_from_nginx

RECIPE = Path(__file__).resolve().parents[1] / "deploy" / "nginx" / "ollama.conf"


def test_the_nginx_recipe_gives_its_three_servers() -> None:
    assert servers_from_nginx(RECIPE) == [
        "http://192.0.2.11:11434",
        "http://192.0.2.12:11434",
        "http://192.0.2.13:11434",
    ]


def test_upstreams_skip_down_and_backup_servers_and_default_to_port_80(tmp_path: Path) -> None:
    conf = tmp_path / "site.conf"
    conf.write_text(
        "upstream a {\n  least_conn;\n  server gpu1:11434 max_fails=2;\n"
        "  # server commented:1;\n  server gpu2 weight=3; server gpu3:11434 down;\n}\n"
        "upstream b { server [::1]:11434; server 10.0.0.5:11434 backup; }\n"
        "server { listen 80; location / { proxy_pass http://a; } }\n"
    )
    assert servers_from_nginx(conf) == [
        "http://gpu1:11434",
        "http://gpu2:80",
        "http://[::1]:11434",
    ]


def test_a_file_without_upstream_servers_is_refused(tmp_path: Path) -> None:
    conf = tmp_path / "empty.conf"
    conf.write_text("server { listen 80; }\n")
    with pytest.raises(ValueError, match="no server line"):
        servers_from_nginx(conf)


@pytest.mark.parametrize("job", [embed, generate, chat])
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"servers": []}, "servers must be"),
        ({"servers": "http://a:11434"}, "servers must be"),
        ({"servers": [("http://a:11434", 0)]}, "1 or more slots"),
        ({"servers": ["http://a:11434"], "slots": 0}, "slots must be"),
        ({"servers": ["http://a:11434"], "batch_size": 0}, "batch_size must be"),
    ],
)
def test_bad_settings_are_refused_before_ray_is_needed(
    job: Any, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(RequestError, match=message):
        job(object(), model="m", **kwargs)


def test_importing_the_package_or_the_module_does_not_import_ray() -> None:
    code = "import ollama_anyio, ollama_anyio.ray, sys; print('ray' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
