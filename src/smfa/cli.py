"""The ``smfa`` command line: one subcommand per stage, mapped to the Python API.

No logic lives here. ``--help`` of every subcommand comes from the function's docstring.
Errors caused by the user's input print one line (``error: ...``) and exit with code 2.
"""

from __future__ import annotations

import sys


def _commands() -> dict:
    from smfa import bench, original, unlearn
    from smfa.eval.evaluate import evaluate
    from smfa.sculpt_stage import sculpt

    cmds = {
        "bench": {"build": bench.build, "validate": bench.validate, "show": bench.show},
        "train": original.train_original,
        "unlearn": unlearn.unlearn,
        "sculpt": sculpt,
        "eval": evaluate,
    }
    try:  # stages that arrive with the pipeline
        from smfa import pipeline, report

        cmds.update({"run": pipeline.run, "demo": pipeline.demo, "report": report.report})
    except ImportError:
        pass
    return cmds


def _quiet_libraries() -> None:
    """Our own progress bars say what is happening; silence transformers' load/save bars."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``smfa`` console script."""
    from jsonargparse import CLI

    from smfa.errors import SmfaError
    from smfa.progress import set_quiet

    _quiet_libraries()
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--quiet" in argv:
        argv.remove("--quiet")
        set_quiet(True)
    try:
        result = CLI(_commands(), args=argv, as_positional=True, prog="smfa")
    except SmfaError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except ValueError as e:  # config validation (__post_init__) names the field and value
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        sys.exit(2)
    if result is not None and not isinstance(result, bool):
        print(result)
