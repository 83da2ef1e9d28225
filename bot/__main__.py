"""Entry point: `tweetchat ...` or `python -m bot ...`.

Kept tiny: start-up failures (bad config, bad chat file, unknown chat) become one readable
line and a non-zero exit inside `bot.cli.main`, never a traceback.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    from bot.cli import main as cli_main

    try:
        code = cli_main()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`tweetchat show X | head`): not an error of ours. Point
        # stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    main()
