"""A local Ollama server for tests: real HTTP on 127.0.0.1, deterministic answers, faults.

Example::

    async with OllamaEmulator() as emu:
        client = ollama.AsyncClient(host=emu.url)

    with OllamaEmulator.start_in_thread() as emu:  # for synchronous code
        ...

Run ``python -m ollama_anyio.testing --port 11434`` to serve it from a terminal.
"""

from ._emulator import OllamaEmulator as OllamaEmulator
from ._emulator import RecordedRequest as RecordedRequest
from ._emulator import ThreadedEmulator as ThreadedEmulator
from ._emulator import run_emulator_in_thread as run_emulator_in_thread
from ._engine import DeterministicEngine as DeterministicEngine
from ._engine import Embedded as Embedded
from ._engine import Engine as Engine
from ._engine import Finish as Finish
from ._engine import Job as Job
from ._engine import Reply as Reply
from ._engine import Token as Token
from ._engine import ToolCall as ToolCall
from ._faults import Fault as Fault
from ._faults import FaultKind as FaultKind
from ._faults import Faults as Faults
from ._faults import Gate as Gate
from ._llama import EngineUnavailable as EngineUnavailable
from ._llama import LlamaCppEngine as LlamaCppEngine
from ._store import ModelStore as ModelStore

__all__ = [
    "DeterministicEngine",
    "Embedded",
    "Engine",
    "EngineUnavailable",
    "Fault",
    "FaultKind",
    "Faults",
    "Finish",
    "Gate",
    "Job",
    "LlamaCppEngine",
    "ModelStore",
    "OllamaEmulator",
    "RecordedRequest",
    "Reply",
    "ThreadedEmulator",
    "Token",
    "ToolCall",
    "run_emulator_in_thread",
]


def _publish(names: list[str]) -> None:
    """Show the public names as members of this package (in reprs and documentation)."""
    namespace = globals()
    for name in names:
        namespace[name].__module__ = __name__


_publish(__all__)
del _publish
