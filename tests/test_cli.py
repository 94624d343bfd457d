"""The command line: pure helpers directly, every subcommand in-process against the emulator,
and ``python -m ollama_anyio`` in a subprocess.

In-process runs call ``main(argv)`` with the ``ollama_emulator`` fixture's URL (or
``--emulate``) and read stdout/stderr with capsys. stdin is an empty, non-terminal stream unless
a test says otherwise; a `Terminal` stands for an interactive one.
"""

from __future__ import annotations

import datetime as _dt
import functools
import io
import json
import re
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ollama_anyio import Client
from ollama_anyio.__main__ import main
from ollama_anyio._cli import _main
from ollama_anyio._cli._errors import CliError
from ollama_anyio._cli._format import (
    go_duration,
    human_bytes,
    processor,
    relative_time,
    table,
    timings,
    until,
)
from ollama_anyio._cli._modelfile import ModelfileError, parse_modelfile
from ollama_anyio._cli._progress import Progress, ProgressView, render_bar
from ollama_anyio._cli._prompt import Input, LineCollector, join_prompt
from ollama_anyio.testing import Fault, Reply, ThreadedEmulator

# ---------------------------------------------------------------------------------------------
# Helpers


class Terminal(io.StringIO):
    """An interactive stdin: typed lines, then end of input (Ctrl-D)."""

    def isatty(self) -> bool:
        return True


class InterruptingOutput(io.StringIO):
    """A stdout where Ctrl-C is pressed when ``trigger`` is first written."""

    def __init__(self, trigger: str) -> None:
        super().__init__()
        self.trigger = trigger
        self.fired = False

    def write(self, text: str) -> int:
        if not self.fired and self.trigger in text:
            self.fired = True
            raise KeyboardInterrupt
        return super().write(text)


class FlushRecorder(io.StringIO):
    """A stdout that remembers what had been written at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


@pytest.fixture(autouse=True)
def _empty_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    # pytest's own stdin cannot be read; a CLI run sees an empty pipe unless a test says so.
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


@pytest.fixture(scope="session")
def tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


@pytest.fixture(autouse=True)
def _shared_tls_context(monkeypatch: pytest.MonkeyPatch, tls_context: ssl.SSLContext) -> None:
    # Each Client loads the CA bundle (about 50 ms) although the emulator speaks plain HTTP; a
    # program makes one Client, these tests about a hundred. The subprocess tests build theirs
    # as the program does.
    monkeypatch.setattr(_main, "Client", functools.partial(Client, verify=tls_context))


@pytest.fixture
def emu(ollama_emulator: ThreadedEmulator) -> ThreadedEmulator:
    return ollama_emulator


def cli(emu: ThreadedEmulator, *argv: str) -> int:
    return main(["--host", emu.url, *argv])


def chat_bodies(emu: ThreadedEmulator) -> list[Any]:
    return [r.json for r in emu.requests if r.path == "/api/chat"]


def body_of(emu: ThreadedEmulator, path: str) -> Any:
    return [r.json for r in emu.requests if r.path == path][-1]


def lines(text: str) -> list[str]:
    return text.splitlines()


# ---------------------------------------------------------------------------------------------
# Pure helpers

NOW = _dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=_dt.timezone.utc)


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (96, "96 B"),
        (1_000, "1.0 KB"),
        (1_429, "1.4 KB"),
        (45_949_216, "46 MB"),
        (274_290_656, "274 MB"),
        (999_600, "1.0 MB"),
        (2_019_392_628, "2.0 GB"),
        (4_683_073_184, "4.7 GB"),
    ],
)
def test_human_bytes(size: int, text: str) -> None:
    assert human_bytes(size) == text


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (_dt.timedelta(0), "Less than a second ago"),
        (_dt.timedelta(seconds=42), "42 seconds ago"),
        (_dt.timedelta(seconds=90), "About a minute ago"),
        (_dt.timedelta(minutes=5), "5 minutes ago"),
        (_dt.timedelta(hours=1, minutes=20), "About an hour ago"),
        (_dt.timedelta(hours=7), "7 hours ago"),
        (_dt.timedelta(days=1), "1 day ago"),
        (_dt.timedelta(days=3, hours=2), "3 days ago"),
        (_dt.timedelta(days=15), "2 weeks ago"),
        (_dt.timedelta(days=95), "3 months ago"),
        (_dt.timedelta(days=800), "2 years ago"),
        (-_dt.timedelta(minutes=4, seconds=30), "4 minutes from now"),
    ],
)
def test_relative_time(delta: _dt.timedelta, text: str) -> None:
    assert relative_time(NOW - delta, NOW) == text


def test_until_and_processor() -> None:
    assert until(NOW + _dt.timedelta(minutes=5), NOW) == "5 minutes from now"
    assert until(NOW + _dt.timedelta(days=365 * 290), NOW) == "Forever"
    assert until(NOW - _dt.timedelta(seconds=1), NOW) == "Stopping..."
    assert until(None, NOW) == ""
    assert processor(100, 100) == "100% GPU"
    assert processor(100, 0) == "100% CPU"
    assert processor(100, 75) == "25%/75% CPU/GPU"


def test_table_aligns_columns() -> None:
    text = table(("NAME", "SIZE"), [("llama3.2:latest", "2.0 GB"), ("a", "46 MB")])
    assert text == "NAME               SIZE\nllama3.2:latest    2.0 GB\na                  46 MB\n"


MODELFILE = '''\
# a comment
FROM llama3.2
system """
You are a pirate.
Answer in one line.
"""
TEMPLATE "{{ .Prompt }}"
PARAMETER temperature 0.5
PARAMETER num_ctx 8192
PARAMETER stop <|eot_id|>
PARAMETER stop """END"""
parameter use_mmap true
MESSAGE user Is the sea deep?
MESSAGE assistant """Aye, very."""
LICENSE MIT
LICENSE """Apache
2.0"""
ADAPTER ./lora.gguf
'''


def test_parse_modelfile() -> None:
    parsed = parse_modelfile(MODELFILE)
    assert parsed.from_ == "llama3.2"
    assert parsed.system == "You are a pirate.\nAnswer in one line."
    assert parsed.template == "{{ .Prompt }}"
    assert parsed.parameters == {
        "temperature": 0.5,
        "num_ctx": 8192,
        "stop": ["<|eot_id|>", "END"],
        "use_mmap": True,
    }
    assert parsed.messages == [
        {"role": "user", "content": "Is the sea deep?"},
        {"role": "assistant", "content": "Aye, very."},
    ]
    assert parsed.license == ["MIT", "Apache\n2.0"]
    assert parsed.adapters == ["./lora.gguf"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("FROM x\nCOLOUR red", 2, "unknown instruction 'COLOUR'"),
        ("FROM x\nPARAMETER colour red", 2, "unknown parameter 'colour'"),
        ("PARAMETER num_ctx lots", 1, "invalid value for parameter 'num_ctx'"),
        ("PARAMETER temperature", 1, "expected a parameter name and a value"),
        ("FROM", 1, "FROM needs a value"),
        ("MESSAGE robot hello", 1, "role must be one of"),
        ('FROM x\nSYSTEM """never\nclosed', 2, "never closed"),
        ('SYSTEM """a""" b', 1, "text after the closing"),
    ],
)
def test_parse_modelfile_errors(text: str, line: int, message: str) -> None:
    with pytest.raises(ModelfileError) as caught:
        parse_modelfile(text)
    assert caught.value.line == line
    assert message in str(caught.value)
    assert isinstance(caught.value, CliError)


def test_progress_is_monotonic_across_layers() -> None:
    progress = Progress()
    events = [
        ("a", 0, 100),
        ("a", 50, 100),
        ("b", 0, 300),  # a new layer: the raw fraction falls from 0.5 to 0.125
        ("a", 100, 100),
        ("b", 30, 300),  # raw 0.325: still below the 0.5 shown before
        ("a", 60, 100),  # a layer's count never goes back either
        ("b", 200, 300),
        ("c", 100, 100),  # a layer that was already there arrives complete
        ("b", 300, 300),
    ]
    fractions, done, totals = [], [], []
    for digest, completed, total in events:
        progress.update((digest, f"pulling {digest}"), completed, total, now=0.0)
        fractions.append(progress.fraction)
        done.append(progress.completed)
        totals.append(progress.total)
    assert fractions == sorted(fractions)
    assert done == sorted(done)
    assert totals == sorted(totals)
    assert fractions[2] == 0.5
    assert (progress.completed, progress.total) == (500, 500)
    assert progress.fraction < 1.0  # every layer seen is complete, but more may follow
    progress.layers_over()
    assert progress.fraction == 1.0


def test_progress_rate_follows_the_clock() -> None:
    progress = Progress()
    progress.update(("a", "pulling a"), 0, 10_000_000, now=100.0)
    assert progress.rate is None
    progress.update(("a", "pulling a"), 2_000_000, 10_000_000, now=101.0)
    assert progress.rate == 2_000_000
    progress.update(("a", "pulling a"), 6_000_000, 10_000_000, now=102.0)
    assert progress.rate == 3_000_000
    # Old samples leave the window: the rate follows the recent speed.
    progress.update(("a", "pulling a"), 7_000_000, 10_000_000, now=110.0)
    progress.update(("a", "pulling a"), 8_000_000, 10_000_000, now=111.0)
    assert progress.rate == 1_000_000


def test_render_bar() -> None:
    progress = Progress()
    progress.update(("a", "pulling a"), 0, 2_000_000_000, now=0.0)
    progress.update(("a", "pulling a"), 1_000_000_000, 2_000_000_000, now=10.0)
    line = render_bar("pulling a", progress, width=80)
    assert line.startswith("pulling a  50% ▕")
    assert line.endswith("▏ 1.0 GB/2.0 GB  100 MB/s")
    assert len(line) < 80
    assert "[" in render_bar("pulling a", progress, width=80, unicode=False)
    assert len(render_bar("x" * 200, progress, width=60)) == 59


PULL = [
    ("pulling manifest", None, None, None),
    ("pulling aaa", "sha256:a", None, 100),
    ("pulling aaa", "sha256:a", 50, 100),
    ("pulling bbb", "sha256:b", 0, 100),
    ("pulling aaa", "sha256:a", 100, 100),
    ("pulling bbb", "sha256:b", 100, 100),
    ("verifying sha256 digest", None, None, None),
    ("writing manifest", None, None, None),
    ("success", None, None, None),
]


def test_view_without_terminal_prints_each_status_once() -> None:
    view = ProgressView(tty=False)
    text = "".join(view.feed(*event, now=0.0) for event in PULL) + view.finish()
    assert lines(text) == [
        "pulling manifest",
        "pulling aaa",
        "pulling bbb",
        "verifying sha256 digest",
        "writing manifest",
        "success",
    ]


def test_view_on_a_terminal_draws_a_bar_per_layer_with_its_own_total() -> None:
    view = ProgressView(tty=True, width=100)
    text = "".join(view.feed(*event, now=float(i)) for i, event in enumerate(PULL))
    text += view.finish()
    head, first, second, *tail = text.split("\n")
    assert head == "pulling manifest"
    # aaa's line: drawn at 0 % and 50 %; then bbb's line below it, at 0 %.
    assert [d.split("%")[0].split()[-1] for d in first.split("\r")[1:]] == ["0", "50"]
    assert first.split("\r")[1].startswith("pulling aaa")
    draws = second.split("\r")[1:]
    assert draws[0].startswith("pulling bbb   0% ")
    # aaa completes: the cursor goes up a line to redraw it at 100 %, then back down.
    assert draws[1].startswith("pulling aaa 100% ")
    assert second.split("\r")[1].endswith("\x1b[K\x1b[1A")
    assert draws[1].endswith("\x1b[K\x1b[1B")
    assert draws[2].startswith("pulling bbb 100% ")
    # Each bar shows its own layer's bytes, not the sum of both.
    assert all(" 100 B/100 B " in d for d in draws[1:])
    assert tail == ["verifying sha256 digest", "writing manifest", "success", ""]
    assert view.progress.fraction == 1.0


def test_view_finish_ends_a_bar_cut_short() -> None:
    view = ProgressView(tty=True)
    assert view.feed("pulling a", "sha256:a", 1, 10, now=0.0).startswith("\r")
    assert view.finish() == "\n"
    assert view.finish() == ""


def test_line_collector() -> None:
    collector = LineCollector()
    assert collector.feed("  hello  ") == Input("message", "hello")
    assert collector.feed("") == Input("empty")
    assert collector.feed("/bye") == Input("bye")
    assert collector.feed("/clear") == Input("clear")
    assert collector.feed("/?") == Input("help")
    assert collector.feed("/set verbose") == Input("unknown", "/set")
    assert collector.feed('"""one line"""') == Input("message", "one line")
    assert collector.feed('"""first') is None
    assert collector.continuing
    assert collector.feed("  second") is None
    assert collector.feed('third"""') == Input("message", "first\n  second\nthird")
    assert not collector.continuing
    assert collector.feed('"""') is None
    assert collector.feed('"""') == Input("empty")


def test_join_prompt() -> None:
    assert join_prompt("Summarize:", "some text\n") == "Summarize:\n\nsome text"
    assert join_prompt("", "piped\n") == "piped"
    assert join_prompt("argument", "") == "argument"


# ---------------------------------------------------------------------------------------------
# run


def test_run_streams_the_answer(emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    emu.script("The sky is blue because of Rayleigh scattering.")
    assert cli(emu, "run", "llama3.2", "Why", "is", "the", "sky", "blue?") == 0
    out, err = capsys.readouterr()
    assert out == "The sky is blue because of Rayleigh scattering.\n"
    assert err == ""
    [body] = chat_bodies(emu)
    assert body["messages"] == [{"role": "user", "content": "Why is the sky blue?"}]
    assert body["stream"] is True


def test_run_flushes_each_chunk(emu: ThreadedEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    stdout = FlushRecorder()
    monkeypatch.setattr(sys, "stdout", stdout)
    emu.script("one two three")
    assert cli(emu, "run", "llama3.2", "count") == 0
    # The emulator sends a word per chunk: each reached stdout as it arrived.
    assert stdout.flushed == ["one", "one two", "one two three", "one two three\n"]


def test_run_sends_its_options(emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "qwen3", "hi", "--system", "Be terse.", "--format", "json", "--no-think"]
    assert cli(emu, *argv, "--keepalive", "5m") == 0
    assert cli(emu, "run", "qwen3", "hi", "--think", "--keepalive", "30") == 0
    assert cli(emu, "run", "llama3.2", "hi", "--format", '{"type": "object"}') == 0
    no_think, think, schema = chat_bodies(emu)
    assert no_think["messages"][0] == {"role": "system", "content": "Be terse."}
    assert (no_think["format"], no_think["think"], no_think["keep_alive"]) == ("json", False, "5m")
    assert (think["think"], think["keep_alive"]) == (True, 30.0)
    assert schema["format"] == {"type": "object"}
    out, _ = capsys.readouterr()
    assert json.loads(lines(out)[0])  # --format json made the answer JSON


def test_run_shows_thinking_on_stderr(
    emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.script(Reply(content="Four.", thinking="Two plus two is four."))
    assert cli(emu, "run", "qwen3", "What is 2+2?") == 0
    out, err = capsys.readouterr()
    assert out == "Four.\n"
    assert err == "Two plus two is four.\n"


def test_run_appends_piped_stdin(
    emu: ThreadedEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("Llamas hum.\nThey live in herds.\n"))
    emu.script("Llamas are social.")
    assert cli(emu, "run", "llama3.2", "Summarize:") == 0
    assert capsys.readouterr().out == "Llamas are social.\n"
    [body] = chat_bodies(emu)
    content = body["messages"][0]["content"]
    assert content == "Summarize:\n\nLlamas hum.\nThey live in herds."


def test_run_reads_the_prompt_from_stdin(
    emu: ThreadedEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("Why is the sky blue?\n"))
    assert cli(emu, "run", "llama3.2") == 0
    assert capsys.readouterr().out.strip()
    assert chat_bodies(emu)[0]["messages"][0]["content"] == "Why is the sky blue?"


def test_run_without_a_prompt_loads_the_model(
    emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # As ``ollama run MODEL < /dev/null``: nothing to answer, the model is loaded.
    assert cli(emu, "run", "llama3.2", "--keepalive", "10m") == 0
    assert capsys.readouterr() == ("", "")
    assert chat_bodies(emu) == []
    load = body_of(emu, "/api/generate")
    assert (load["model"], load.get("prompt", ""), load["keep_alive"]) == ("llama3.2", "", "10m")


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "llama3.2", "--format", "json", "Why", "is", "the", "sky", "blue?"],
        ["run", "llama3.2", "Why", "is", "--format", "json", "the", "sky", "blue?"],
        ["run", "--format", "json", "llama3.2", "Why is the sky blue?"],
    ],
)
def test_run_takes_options_after_the_model_as_ollama_does(
    emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert cli(emu, *argv) == 0
    [body] = chat_bodies(emu)
    assert body["messages"] == [{"role": "user", "content": "Why is the sky blue?"}]
    assert body["format"] == "json"
    assert json.loads(capsys.readouterr().out)


def test_run_system_after_the_model(
    emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(emu, "run", "llama3.2", "--system", "Be brief", "Hello") == 0
    [body] = chat_bodies(emu)
    assert body["messages"] == [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": "Hello"},
    ]
    assert capsys.readouterr().out == "Hello! How can I help you today?\n"


def test_run_verbose_prints_ollamas_timings(
    emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.script("Four.")
    assert cli(emu, "run", "llama3.2", "--verbose", "What is 2+2?") == 0
    out, err = capsys.readouterr()
    assert out == "Four.\n"
    summary = lines(err)
    assert summary[0] == ""  # a blank line between the answer and the summary
    labels = [line.split(":")[0] for line in summary[1:]]
    # load duration only when the model was loaded for this request
    assert [label for label in labels if label != "load duration"] == [
        "total duration",
        "prompt eval count",
        "prompt eval duration",
        "prompt eval rate",
        "eval count",
        "eval duration",
        "eval rate",
    ]
    for line in summary[1:]:
        match = re.fullmatch(r"([a-z ]+:\s+)\S.*", line)
        assert match is not None
        assert len(match[1]) == 22  # the values line up
    assert re.search(r"^eval count: +\d+ token\(s\)$", err, re.MULTILINE)
    assert re.search(r"^eval rate: +\d+\.\d\d tokens/s$", err, re.MULTILINE)


@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    [
        (0, "0s"),
        (850, "850ns"),
        (1_500, "1.5µs"),
        (61_145_167, "61.145167ms"),
        (7_945_641_583, "7.945641583s"),
        (62_500_000_000, "1m2.5s"),
        (3_600_000_000_000, "1h0m0s"),
    ],
)
def test_go_duration(nanoseconds: int, text: str) -> None:
    assert go_duration(nanoseconds) == text


def test_timings_has_the_lines_it_has_figures_for() -> None:
    text = timings(
        total_duration=2_000_000_000,
        load_duration=None,
        prompt_eval_count=10,
        prompt_eval_duration=500_000_000,
        eval_count=30,
        eval_duration=1_000_000_000,
    )
    assert text == (
        "total duration:       2s\n"
        "prompt eval count:    10 token(s)\n"
        "prompt eval duration: 500ms\n"
        "prompt eval rate:     20.00 tokens/s\n"
        "eval count:           30 token(s)\n"
        "eval duration:        1s\n"
        "eval rate:            30.00 tokens/s\n"
    )


def test_run_pulls_a_missing_model(
    emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.script("Hello from gemma.")
    assert cli(emu, "run", "gemma3", "hi") == 0
    out, err = capsys.readouterr()
    assert out == "Hello from gemma.\n"
    assert lines(err)[0] == "pulling manifest"
    assert lines(err)[-1] == "success"


def test_run_unknown_model_fails(emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(emu, "run", "no-such-model", "hi") == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert lines(err)[-1] == "Error: pull model manifest: file does not exist"
    assert "Traceback" not in err


def test_run_ctrl_c_exits_130(emu: ThreadedEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    stdout = InterruptingOutput("two")
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stdout)
    monkeypatch.setattr(sys, "stderr", stderr)
    emu.script("one two three four five")
    assert cli(emu, "run", "llama3.2", "count") == 130
    assert stdout.getvalue() == "one"
    assert "Traceback" not in stderr.getvalue()


# ---------------------------------------------------------------------------------------------
# Interactive run


def test_chat_keeps_the_conversation(
    emu: ThreadedEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    typed = 'Hi\n"""\nTwo\nlines\n"""\n/clear\nAgain\n/bye\nnever read\n'
    monkeypatch.setattr(sys, "stdin", Terminal(typed))
    emu.script("Hello!", "Got two lines.", "Fresh start.")
    assert cli(emu, "run", "llama3.2", "--system", "Be kind.") == 0
    out, _ = capsys.readouterr()
    assert out.startswith(">>> Hello!\n\n>>> ... ... ... Got two lines.\n\n>>> ")
    assert "Cleared session context\n>>> Fresh start.\n\n>>> " in out
    first, second, third = (b["messages"] for b in chat_bodies(emu))
    system = {"role": "system", "content": "Be kind."}
    assert first == [system, {"role": "user", "content": "Hi"}]
    assert second == [
        system,
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Two\nlines"},
    ]
    assert third == [system, {"role": "user", "content": "Again"}]


def test_chat_help_unknown_command_and_end_of_input(
    emu: ThreadedEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal("/?\n/set verbose\n\n"))
    assert cli(emu, "run", "llama3.2") == 0
    out, _ = capsys.readouterr()
    assert "/bye" in out
    assert "Unknown command '/set'. Type /? for help" in out
    assert out.endswith(">>> >>> \n")
    assert chat_bodies(emu) == []


def test_chat_ctrl_c_cancels_only_the_answer(
    emu: ThreadedEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    stdout = InterruptingOutput("two")
    monkeypatch.setattr(sys, "stdin", Terminal("count\nagain\n"))
    monkeypatch.setattr(sys, "stdout", stdout)
    emu.script("one two three four five", "Second answer.")
    assert cli(emu, "run", "llama3.2") == 0
    assert stdout.getvalue() == ">>> one\n\n>>> Second answer.\n\n>>> \n"
    # The cut exchange is not part of the conversation.
    assert chat_bodies(emu)[1]["messages"] == [{"role": "user", "content": "again"}]


def test_chat_ctrl_c_at_the_prompt_exits(
    emu: ThreadedEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class CtrlC:
        """A terminal where Ctrl-C is pressed at the prompt."""

        def isatty(self) -> bool:
            return True

        def readline(self) -> str:
            raise KeyboardInterrupt

    monkeypatch.setattr(sys, "stdin", CtrlC())
    assert cli(emu, "run", "llama3.2") == 130
    assert "Traceback" not in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# pull, push, create


def test_pull_prints_each_status_once(
    emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(emu, "pull", "llama3.2:1b") == 0
    out, err = capsys.readouterr()
    assert out == ""
    statuses = lines(err)
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    layers = statuses[1:-3]
    assert len(layers) == 4
    assert all(s.startswith("pulling ") and len(s) == len("pulling ") + 12 for s in layers)
    assert len(set(statuses)) == len(statuses)
    assert cli(emu, "list") == 0
    assert "llama3.2:1b" in capsys.readouterr().out


def test_push(emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(emu, "push", "llama3.2", "--insecure") == 0
    statuses = lines(capsys.readouterr().err)
    assert statuses[0] == "retrieving manifest"
    assert statuses[-1] == "success"
    assert body_of(emu, "/api/push")["insecure"] is True


def test_create_from_a_modelfile_then_show(
    emu: ThreadedEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    modelfile = tmp_path / "Modelfile"
    modelfile.write_text(
        'FROM llama3.2\nSYSTEM """\nYou are a pirate.\nSpeak like one.\n"""\n'
        "PARAMETER temperature 0.25\nPARAMETER stop ARR\nMESSAGE user Ahoy\n"
        "MESSAGE assistant Ahoy matey\nLICENSE Pirate licence\n"
    )
    assert cli(emu, "create", "pirate", "-f", str(modelfile)) == 0
    err = capsys.readouterr().err
    assert "writing manifest" in err
    assert lines(err)[-1] == "success"
    body = body_of(emu, "/api/create")
    assert body["from"] == "llama3.2"
    assert body["parameters"] == {"temperature": 0.25, "stop": ["ARR"]}
    assert body["messages"][1] == {"role": "assistant", "content": "Ahoy matey"}

    assert cli(emu, "show", "pirate", "--system") == 0
    assert capsys.readouterr().out == "You are a pirate.\nSpeak like one.\n"
    assert cli(emu, "show", "pirate") == 0
    out = capsys.readouterr().out
    assert "  System\n    You are a pirate.\n    Speak like one.\n" in out
    assert "    temperature    0.25\n" in out
    assert "  License\n    Pirate licence\n" in out


def test_create_uploads_a_local_file(
    emu: ThreadedEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "weights.gguf").write_bytes(b"GGUF" + bytes(1000))
    (tmp_path / "Modelfile").write_text("FROM ./weights.gguf\n")
    assert cli(emu, "create", "mine", "-f", str(tmp_path / "Modelfile")) == 0
    err = capsys.readouterr().err
    digest = body_of(emu, "/api/create")["files"]["weights.gguf"]
    assert f"copying file {digest} 100%" in err
    assert "validating GGUF model" in err
    assert lines(err)[-1] == "success"
    assert cli(emu, "list") == 0
    assert "mine:latest" in capsys.readouterr().out


def test_create_from_options(
    emu: ThreadedEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./Modelfile here
    argv = ["create", "small", "--from", "all-minilm", "-q", "q8_0", "--system", "Be brief."]
    assert cli(emu, *argv) == 0
    err = capsys.readouterr().err
    assert "quantizing F16 model to Q8_0" in err
    assert cli(emu, "show", "small", "--system") == 0
    assert capsys.readouterr().out == "Be brief.\n"


def test_create_reads_modelfile_in_the_current_folder(
    emu: ThreadedEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Modelfile").write_text("FROM llama3.2\nSYSTEM From the folder.\n")
    assert cli(emu, "create", "here", "--system", "From the option.") == 0
    assert body_of(emu, "/api/create")["system"] == "From the option."


@pytest.mark.parametrize(
    ("modelfile", "code", "message"),
    [
        (None, 2, "error: create needs a Modelfile with a FROM line (-f), or --from"),
        ("FROM llama3.2\nPARAMETER colour red\n", 1, "Error: Modelfile line 2: unknown param"),
        ("FROM ./missing.gguf\n", 1, "Error: no such file or folder: ./missing.gguf"),
    ],
)
def test_create_errors(
    emu: ThreadedEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    modelfile: str | None,
    code: int,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    if modelfile is not None:
        (tmp_path / "Modelfile").write_text(modelfile)
    assert cli(emu, "create", "broken") == code
    assert message in capsys.readouterr().err
    assert [r for r in emu.requests if r.path == "/api/create"] == []


def test_create_with_a_missing_modelfile(
    emu: ThreadedEmulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(emu, "create", "x", "-f", str(tmp_path / "nope")) == 1
    assert "Error: cannot read the Modelfile" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# list, ps, show, rm, cp, embed, version


def test_list(emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    with Client(emu.url) as client:
        digest = next(m.digest for m in client.list().models if m.model == "llama3.2:latest")
    assert cli(emu, "list") == 0
    header, *rows = lines(capsys.readouterr().out)
    assert header.split() == ["NAME", "ID", "SIZE", "MODIFIED"]
    [row] = [r for r in rows if r.startswith("llama3.2:latest ")]
    assert row.split()[:4] == ["llama3.2:latest", (digest or "")[:12], "2.0", "GB"]
    assert row.endswith(" ago")
    assert cli(emu, "ls") == 0
    assert "llama3.2:latest" in capsys.readouterr().out


def test_ps_after_run(emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(emu, "ps") == 0
    assert lines(capsys.readouterr().out) == ["NAME    ID    SIZE    PROCESSOR    CONTEXT    UNTIL"]
    assert cli(emu, "run", "llama3.2", "hi", "--keepalive", "10m") == 0
    assert cli(emu, "ps") == 0
    header, row = lines(capsys.readouterr().out)[-2:]
    assert header.split() == ["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"]
    assert row.startswith("llama3.2:latest ")
    assert "100% GPU" in row
    assert " 4096 " in row
    assert row.endswith("minutes from now")


def test_show(emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(emu, "show", "llama3.2") == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "  Model\n"
        "    architecture        llama\n"
        "    parameters          3.2B\n"
        "    context length      131072\n"
        "    embedding length    3072\n"
        "    quantization        Q4_K_M\n"
        "\n"
        "  Capabilities\n"
        "    completion\n"
        "    tools\n"
        "\n"
        "  Parameters\n"
        '    stop    "<|start_header_id|>"\n'
    )
    assert "  License\n    LLAMA 3.2 COMMUNITY LICENSE AGREEMENT\n" in out


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("--modelfile", '# Modelfile generated by "ollama show"'),
        ("--template", "<|start_header_id|>system<|end_header_id|>"),
        ("--parameters", 'stop                           "<|eot_id|>"'),
        ("--license", "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT"),
    ],
)
def test_show_one_part(
    emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str], flag: str, expected: str
) -> None:
    assert cli(emu, "show", "llama3.2", flag) == 0
    out = capsys.readouterr().out
    assert expected in out
    assert "  Model" not in out


def test_rm_then_list(emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(emu, "rm", "llama3.2", "llava") == 0
    assert capsys.readouterr().out == "deleted 'llama3.2'\ndeleted 'llava'\n"
    assert cli(emu, "list") == 0
    out = capsys.readouterr().out
    assert "llama3.2" not in out
    assert "qwen3:latest" in out
    assert cli(emu, "rm", "llama3.2") == 1
    assert capsys.readouterr().err == "Error: model 'llama3.2' not found\n"


def test_cp(emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(emu, "cp", "llama3.2", "my-llama") == 0
    assert capsys.readouterr().out == "copied 'llama3.2' to 'my-llama'\n"
    assert cli(emu, "list") == 0
    out = capsys.readouterr().out
    assert "my-llama:latest" in out
    assert "llama3.2:latest" in out


def test_embed(emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(emu, "embed", "all-minilm", "first text", "second text") == 0
    vectors = [json.loads(line) for line in lines(capsys.readouterr().out)]
    assert [len(v) for v in vectors] == [384, 384]
    assert vectors[0] != vectors[1]
    assert cli(emu, "embed", "nomic-embed-text", "text", "--dimensions", "8") == 0
    [vector] = [json.loads(line) for line in lines(capsys.readouterr().out)]
    assert len(vector) == 8
    assert body_of(emu, "/api/embed")["dimensions"] == 8


def test_embed_reads_lines_from_stdin(
    emu: ThreadedEmulator, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("one\n\ntwo\nthree\n"))
    assert cli(emu, "embed", "all-minilm") == 0
    assert len(lines(capsys.readouterr().out)) == 3
    assert body_of(emu, "/api/embed")["input"] == ["one", "two", "three"]


def test_version(emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(emu, "version") == 0
    assert capsys.readouterr().out == "client version is 0.1.0\nserver version is 0.12.6\n"


# ---------------------------------------------------------------------------------------------
# Global options, errors and exit statuses


def test_global_options_after_the_subcommand(
    emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.script("Here.")
    assert main(["run", "--host", emu.url, "llama3.2", "hi"]) == 0
    assert capsys.readouterr().out == "Here.\n"


def test_emulate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--emulate", "list"]) == 0
    out, err = capsys.readouterr()
    assert err.startswith("using the built-in Ollama emulator at http://127.0.0.1:")
    assert "llama3.2:latest" in out


def test_emulate_reports_errors_plainly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "no-such-model", "--emulate"]) == 1
    err = capsys.readouterr().err
    assert lines(err)[-1] == "Error: model 'no-such-model:latest' not found"


def test_connection_error_suggests_the_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # rm: a deletion is never retried, so the failure is reported at once.
    assert main(["--host", f"http://127.0.0.1:{port}", "rm", "llama3.2"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"Error: failed to connect to http://127.0.0.1:{port}")
    assert err.count("Is Ollama running there?") + err.count("is Ollama running there?") == 1
    assert "--emulate" in err
    assert "Traceback" not in err


def test_broken_answer_is_an_error_without_the_hint(
    emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.faults.add(Fault.drop(after=2, path="/api/chat"))
    emu.script("one two three four")
    assert cli(emu, "run", "llama3.2", "count") == 1
    out, err = capsys.readouterr()
    assert out == "one two"
    assert err.startswith("Error: connection to ")
    assert "Is Ollama running" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["serve"], "invalid choice: 'serve'"),
        (["run"], "the following arguments are required: MODEL"),
        (["list", "extra"], "unrecognized arguments: extra"),
        (["embed", "m", "x", "--dimensions", "0"], "must be a positive integer"),
        (["run", "m", "x", "--keepalive", "soon"], "--keepalive must be a Go duration"),
        (["run", "m", "x", "--format", "yaml"], "must be 'json' or a JSON schema"),
        (["show", "m", "--system", "--license"], "not allowed with argument"),
        (["--host", "http://x", "--emulate", "list"], "--host and --emulate cannot be used"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "usage: ollama-anyio" in err
    assert message in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("run", "pull", "push", "list", "ps", "show", "rm", "cp", "create", "embed"):
        assert command in out


COMMANDS = ("run", "pull", "push", "list", "ls", "ps", "show", "rm", "cp", "create", "embed")


@pytest.mark.parametrize("command", [*COMMANDS, "version"])
def test_every_subcommands_help_describes_it(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    # usage, a blank line, then the description before the arguments.
    description = out.split("\n\n")[1]
    assert description.strip()
    assert not description.startswith(("positional arguments", "options"))


def test_extra_options_are_still_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--bogus"]) == 2
    assert main(["run", "m", "hi", "--bogus"]) == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# python -m ollama_anyio


def _module(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ollama_anyio", *argv],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_module_runs_with_the_emulator() -> None:
    result = _module("--emulate", "run", "llama3.2", "Why is the sky blue?")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert result.stdout.endswith("\n")
    assert "using the built-in Ollama emulator at http://127.0.0.1:" in result.stderr


def test_module_reads_a_piped_prompt(
    emu: ThreadedEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _module("--emulate", "run", "llama3.2", stdin="Why is the sky blue?\n")
    assert result.returncode == 0, result.stderr
    # The emulator answers a prompt deterministically: the same as an in-process run.
    assert cli(emu, "run", "llama3.2", "Why is the sky blue?") == 0
    assert result.stdout == capsys.readouterr().out
