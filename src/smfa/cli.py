"""The ``smfa`` command line: one subcommand per stage, mapped to the Python API.

No logic lives here. ``--help`` of every subcommand comes from the function's docstring;
``smfa unlearn METHOD`` has one subcommand per registered method, its options as flags.
Errors caused by the user's input print one line (``error: ...``) and exit with code 2.
"""

from __future__ import annotations

import errno
import sys


def _commands() -> dict:
    from smfa import bench
    from smfa.bench.importers import IMPORTERS
    from smfa.pipeline import demo, run
    from smfa.stages import ledger
    from smfa.stages.attack import attack
    from smfa.stages.evaluate import evaluate
    from smfa.stages.export import export, verify
    from smfa.stages.report import report
    from smfa.stages.sculpt import sculpt
    from smfa.stages.train_original import train_original
    from smfa.stages.unlearn import method_commands

    return {
        "bench": {
            "build": bench.build,
            "validate": bench.validate,
            "show": bench.show,
            "import": dict(IMPORTERS),
        },
        "train": train_original,
        "unlearn": method_commands(),
        "sculpt": sculpt,
        "eval": evaluate,
        "attack": attack,
        "run": run,
        "demo": demo,
        "report": report,
        "export": export,
        "verify": verify,
        "ledger": {
            "init": ledger.init,
            "add": ledger.add,
            "remove": ledger.remove,
            "show": ledger.show,
            "build": ledger.build,
        },
    }


def _quiet_libraries() -> None:
    """Our own progress bars say what is happening; silence transformers' load/save bars."""
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _parser_class():
    """jsonargparse's parser, with parse errors raised as one-line :class:`SmfaError`s."""
    from jsonargparse import ArgumentParser

    from smfa.errors import SmfaError

    class Parser(ArgumentParser):
        def error(self, message: str, ex: Exception | None = None):
            prog = self.prog.replace(" [options]", "")
            raise SmfaError(f"{prog}: {parse_error(str(message), prog)} (see {prog} --help)")

    return Parser


def parse_error(message: str, prog: str = "smfa") -> str:
    """jsonargparse's (multi-line) parse error as one short line naming the flag."""
    import re

    text = " ".join(message.split())
    if m := re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", text):
        what = "method" if prog.endswith(" unlearn") else "subcommand"
        return f"unknown {what} '{m.group(1)}'; known: {m.group(2).replace(chr(39), '')}"
    if m := re.search(r"arguments are required: (\S+)", text):
        return f"missing argument '{m.group(1).rsplit('.', 1)[-1].rstrip(',')}'"
    if m := re.search(r'Parser key "([^"]+)"', text):
        kinds = re.findall(r"Expected a <class '(?:[\w.]+\.)?(\w+)'>|Not of type (\w+)", text)
        kinds = [a or b for a, b in kinds if (a or b) != "NoneType"]
        got = re.search(r"(?:Given|Got) value: (.*?)(?: Given value type|$)", text)
        names = {
            "Real": "a number (inf allowed)",
            "int": "an integer",
            "float": "a number",
            "bool": "true or false",
            "str": "a string",
        }
        detail = f"expected {names.get(kinds[0], kinds[0])}" if kinds else "invalid value"
        return f"--{m.group(1)}: {detail}" + (f", got {got.group(1)!r}" if got else "")
    return text


# Switches that may be given without a value (``--merged`` = ``--merged true``).
BARE_FLAGS = ("--overwrite", "--merged", "--adapter")


def bare_flags(argv: list[str]) -> list[str]:
    """``--flag`` of :data:`BARE_FLAGS` followed by nothing or another flag gets ``true``."""
    out = []
    for i, a in enumerate(argv):
        out.append(a)
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if a in BARE_FLAGS and (nxt is None or nxt.startswith("--")):
            out.append("true")
    return out


def _register_types() -> None:
    from jsonargparse.typing import register_type

    from smfa.config import Real

    try:
        register_type(Real, serializer=float, deserializer=float)
    except ValueError:  # already registered (main called twice in one process)
        pass


# A full disk, a read-only or forbidden folder: the user's environment, not a bug.
USER_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


def _exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so ``finally`` blocks run (training children are killed,
    temporary folders removed)."""
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``smfa`` console script."""
    from jsonargparse import CLI

    from smfa.errors import SmfaError
    from smfa.progress import set_quiet

    _quiet_libraries()
    _register_types()
    _exit_on_sigterm()
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--quiet" in argv:
        argv.remove("--quiet")
        set_quiet(True)
    argv = bare_flags(argv)
    try:
        result = CLI(
            _commands(), args=argv, as_positional=True, prog="smfa", parser_class=_parser_class()
        )
    except SmfaError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except ValueError as e:  # config validation (__post_init__) names the field and value
        print(f"error: {' '.join(str(e).split())}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:
        if e.errno not in USER_ERRNOS:
            raise
        print(
            f"error: {e.filename or ''}: {e.strerror}".replace("error: : ", "error: "),
            file=sys.stderr,
        )
        sys.exit(2)
    if result is not None and not isinstance(result, bool):
        print(result)
