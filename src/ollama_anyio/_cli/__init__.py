"""The ``ollama-anyio`` command line, built on the public `Client` and the emulator.

Modules, pure ones first::

    _errors     CliError (exit 1) and UsageError (exit 2)
    _format     sizes, relative times, tables                        (pure)
    _modelfile  the Modelfile parser                                 (pure)
    _progress   progress accounting across layers, the bar           (pure)
    _prompt     prompt assembly, interactive line handling           (pure)
    _show       the sections of ``show``                             (pure)
    _console    the standard streams
    _parser     the argparse grammar
    _transfer   pull, push, create;  _chat  run;  _models  the rest
    _main       main(): dispatch, emulator, errors and exit statuses
"""

from ._main import main as main

__all__ = ["main"]
