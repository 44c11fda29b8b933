"""Run a recipe and ``kill -9`` it at a point the test chooses, not at a time it guesses.

Usage: ``python tests/kill_point.py WHEN RECIPE.py [recipe arguments...]``, where ``WHEN`` is

- ``after-epoch-1``: right after the first end-of-epoch checkpoint is complete (its ``CKPT.yaml``
  published), before anything else of the run happens;
- ``mid-epoch-2``: right after the first intra-epoch checkpoint that follows an end-of-epoch one, i.e.
  in the middle of the second epoch.

The recipe runs in this process (``runpy``), exactly as ``python RECIPE.py ...`` would run it, with
``save_and_keep_only`` of :class:`lmac_brain.training.checkpointer.AtomicCheckpointer` wrapped (every
checkpoint of the Brains and recipes is saved through it): once the chosen checkpoint has been saved and
the older ones deleted, i.e. between two steps, the process sends itself ``SIGKILL`` (no cleanup, no ``finally``: what a
``kill -9`` from outside does). Whatever the machine's speed, the run dies at that point, so a test
that resumes it never races the run. A run that ends without reaching the point exits with status 3.
"""

import inspect
import os
import runpy
import signal
import sys

from lmac_brain.training.checkpointer import AtomicCheckpointer

WHEN = ("after-epoch-1", "mid-epoch-2")
NOT_REACHED = 3


def _kill_when(when: str):
    """Wrap ``AtomicCheckpointer.save_and_keep_only`` so that the process dies after the chosen save."""
    save = AtomicCheckpointer.save_and_keep_only
    signature = inspect.signature(save)
    seen = {"end_of_epoch": 0}

    def save_then_maybe_die(self, *args, **kwargs):
        saved = save(self, *args, **kwargs)
        end_of_epoch = signature.bind(self, *args, **kwargs).arguments.get("end_of_epoch", True)
        if end_of_epoch:
            seen["end_of_epoch"] += 1
        elif seen["end_of_epoch"]:
            seen["intra"] = seen.get("intra", 0) + 1
        if (when == "after-epoch-1" and end_of_epoch) or (
            when == "mid-epoch-2" and not end_of_epoch and seen.get("intra", 0) == int(os.environ.get("KP_N", "1"))
        ):
            sys.stdout.flush()
            sys.stderr.flush()
            os.kill(os.getpid(), getattr(signal, "SIG" + os.environ.get("KP_SIGNAL", "KILL")))
        return saved

    AtomicCheckpointer.save_and_keep_only = save_then_maybe_die


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] not in WHEN:
        sys.exit(f"usage: python {sys.argv[0]} {{{'|'.join(WHEN)}}} RECIPE.py [arguments...]")
    when, script = sys.argv[1], os.path.abspath(sys.argv[2])
    _kill_when(when)
    sys.argv = [script, *sys.argv[3:]]
    sys.path[0] = os.path.dirname(script)  # as `python RECIPE.py` sets it
    runpy.run_path(script, run_name="__main__")
    sys.exit(NOT_REACHED)


if __name__ == "__main__":
    main()
