"""An emulator in a process of its own, for a test that kills it with SIGKILL.

``python _emulator_process.py [--hang-after N]`` prints the emulator's URL once it accepts
connections, then serves until it is killed. With ``--hang-after N`` its first chat stream
stops after N chunks and waits, so the test can kill the process in the middle of it.
"""

from __future__ import annotations

import argparse

import anyio

from ollama_anyio.testing import Fault, OllamaEmulator


async def _serve(hang_after: int | None) -> None:
    async with OllamaEmulator() as emulator:
        if hang_after is not None:
            emulator.faults.add(Fault.hang(after=hang_after, path="/api/chat"))
        print(emulator.url, flush=True)
        await anyio.sleep_forever()  # until SIGKILL: this process exists to be killed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hang-after", type=int, default=None)
    anyio.run(_serve, parser.parse_args().hang_after)


if __name__ == "__main__":
    main()
