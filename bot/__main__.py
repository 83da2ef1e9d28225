"""Entry point: `tweetchat ...` or `python -m bot ...`.

Kept tiny: start-up failures (bad config, bad chat file, unknown chat) become one readable
line and a non-zero exit inside `bot.cli.main`, never a traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    from bot.cli import main as cli_main

    sys.exit(cli_main())


if __name__ == "__main__":
    main()
