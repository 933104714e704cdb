"""Run by tests/test_multiprocess.py under `accelerate launch`: several smfa commands, one launch.

Each argument is one command line, e.g. ``"unlearn smfa ORIG BENCH OUT"``; starting the
processes once for all of them keeps the test short.
"""

import shlex
import sys

from smfa.cli import main

if __name__ == "__main__":
    for command in sys.argv[1:]:
        main(shlex.split(command))
