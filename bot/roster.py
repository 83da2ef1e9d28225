"""The organisers' roster and the configured stakeholder groups, put in the archive when
any command opens it (transcripts and the web archive read them from there).

Apart from :mod:`bot.groups` (declarations, which need the capture rules), so that a short
command such as ``tweetchat transcript`` opens the archive without importing capture.
"""

from __future__ import annotations

import logging

from archive.groups import RosterEntry, RosterError, groups_of, parse_roster
from archive.store import Store
from bot.config import Config, ConfigError

logger = logging.getLogger(__name__)


def roster_entries(config: Config) -> tuple[RosterEntry, ...]:
    """The roster file named by ``[groups] roster`` (none: no entries). Raises ConfigError
    naming the file (and the line) when it cannot be read or is wrong."""
    path = config.groups.roster
    if path is None:
        return ()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot read the roster file: {reason}", source=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError("the roster file is not valid UTF-8", source=str(path)) from None
    from bot.platforms.registry import post_limits  # only with a roster: it names networks

    try:
        return parse_roster(
            text,
            source=str(path),
            groups=groups_of(config.groups.labels),
            platforms=post_limits(config),
        )
    except RosterError as exc:
        raise ConfigError(str(exc)) from None


def sync_groups(store: Store, config: Config) -> None:
    """Put the config's groups and roster in the archive, where transcripts and the web
    archive read them. Raises ConfigError for a bad roster (nothing is changed then).

    A roster entry the archive held that the config no longer has is dropped, and a warning
    says how many: a command run with another config (or none) would otherwise change the
    group mix of every transcript published after it without a word."""
    entries = roster_entries(config)
    dropped = store.set_group_setup(config.groups.labels, entries)
    if dropped:
        where = f"the roster {config.groups.roster}" if config.groups.roster else "no roster"
        logger.warning(
            "groups: the config has %s; %d roster %s the archive held %s dropped "
            "(transcripts published from now on count those participants as unknown)",
            where,
            dropped,
            "entry" if dropped == 1 else "entries",
            "was" if dropped == 1 else "were",
        )
