"""The ``ihc`` console script: :func:`ihc.cli.main`, started for a one-shot command with the
cyclic garbage collector paused.

A one-shot command (``classify``, ``parse``, ``recommend``, ``markers``, ``diagnoses``,
``schema``) reads one bounded input, prints and exits within some 70 ms. Most of what it
allocates (click's and the CLI's modules, the loaded model's ~20,000 containers) forms no
cycle and lives until exit, so the collector's passes over it are pure cost: about 4-6 ms of
a cold ``ihc classify``, measured (README, "Speed"). The collector is paused before click and
the CLI are imported and resumed when the command returns (for a caller in the same process).
The commands that stream, serve, train or evaluate keep it running.

When the console script itself exits after a one-shot command (``argv`` not given: the process
ends with the command), everything still allocated is frozen (:func:`gc.freeze`) before the
interpreter shuts down, so its final collection does not traverse the ~15,000 containers
that are about to be freed anyway: about 7 ms of a cold ``ihc classify`` (README, "Speed").
Nothing is skipped: exit handlers, flushing and deallocation run as usual.
"""

from __future__ import annotations

import gc
import sys

__all__ = ["ONE_SHOT_COMMANDS", "main"]

#: Commands that read one bounded input, print and exit.
ONE_SHOT_COMMANDS = frozenset({"classify", "parse", "recommend", "markers", "diagnoses", "schema"})


def main(argv=None):
    """Run ``ihc`` (see :func:`ihc.cli.main`), the garbage collector paused for a one-shot command."""
    args = sys.argv[1:] if argv is None else argv
    pause = bool(args) and args[0] in ONE_SHOT_COMMANDS and gc.isenabled()
    if pause:
        gc.disable()
    exiting = False
    try:
        from .cli import main as cli_main

        return cli_main(argv)
    except SystemExit:
        exiting = pause and argv is None
        raise
    finally:
        if pause:
            gc.enable()
        if exiting:
            gc.freeze()
