"""The HTTP side of a call: status, headers and elapsed time; typed errors with headers too.

OLLAMA_ANYIO_LOG=info python examples/raw_response.py [--emulate]
"""

from __future__ import annotations

import sys

from ollama_anyio import Client, NotFoundError, ResponseError, ServerBusyError
from ollama_anyio.testing import OllamaEmulator

HI = [{"role": "user", "content": "Say hi."}]


def inspect(host: str | None) -> None:
    with Client(host) as client:
        raw = client.with_raw_response.chat("llama3.2", HI)
        print(raw.status_code, raw.headers.get("content-type"), f"{raw.elapsed * 1000:.1f} ms")
        print(raw.parsed.message.content)

        with client.chat("llama3.2", HI, stream=True) as parts:
            for part in parts:
                print(part.message.content, end="")
            print("\nstream headers:", dict(parts.headers or {}))

        try:
            client.show("no-such-model")
        except NotFoundError as exc:  # still a ResponseError: old except clauses keep working
            print("not found:", exc.model, "-", exc.hint)
        except ServerBusyError as exc:
            print("busy, request id:", exc.headers.get("x-request-id"))
        except ResponseError as exc:
            print("other error:", exc.status_code, exc.error)


if __name__ == "__main__":
    if "--emulate" in sys.argv:
        with OllamaEmulator.start_in_thread() as emulator:
            inspect(emulator.url)
    else:
        inspect(None)
