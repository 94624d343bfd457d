"""First call in a fresh process: import, build a blocking client, one chat.

Timed inside a fresh interpreter from before the import to the returned answer, which is
checked before the figure counts.
"""

from __future__ import annotations

from ._bodies import MESSAGES, MODEL
from ._harness import OFFICIAL, OURS, Context, Row, alternate, at_most, run_python

NAME = "first_call"

_CODE = """\
import time
start = time.perf_counter()
import {module} as ollama
client = ollama.Client(host={url!r})
response = client.chat(model={model!r}, messages={messages!r})
seconds = time.perf_counter() - start
ok = response.message.content == {content!r} and response.done is True
client.close()
import json
print(json.dumps({{"seconds": seconds, "ok": ok}}))
"""


def run(ctx: Context) -> list[Row]:
    def measure(who: str, module: str) -> float:
        code = _CODE.format(
            module=module,
            url=ctx.url,
            model=MODEL,
            messages=MESSAGES,
            content=ctx.expected.chat_content,
        )
        result = run_python(code)
        if result["ok"] is not True:
            raise AssertionError(f"{who}: wrong answer to the first chat")
        seconds: float = result["seconds"]
        return seconds

    medians = alternate(
        [
            (OFFICIAL, lambda: measure(OFFICIAL, "ollama")),
            (OURS, lambda: measure(OURS, "ollama_anyio")),
        ],
        rounds=ctx.settings.process_rounds,
        warmup=1,
    )
    return [
        Row("first call in a fresh process", "time", medians[OFFICIAL], medians[OURS], at_most(0.5))
    ]
