"""Hidden working files named for the process that made them, and their removal once that
process is gone: a publication's staging folder (``.publishing-<pid>-<host>-...``), a
piped export's copy (``.tweetchat-import-<pid>-<host>-...json``). A process killed with
SIGKILL, or a machine that stopped, leaves them behind, each as big as what it was
writing; the next process of the same kind removes them.

The pid is the one thing that dies with its writer (a lock file would need the same check,
and an age would remove a slow writer's files). The host's name makes the pid checkable: a
folder shared between hosts (a network file system) holds files of processes this host
cannot see, and those are never touched. A pid reused since keeps the files until that
process ends too: the safe side. Files named otherwise (from a version before this one)
are left alone: nothing tells whether their writer still runs.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
from pathlib import Path

__all__ = ["pid_alive", "process_prefix", "remove_abandoned"]

logger = logging.getLogger(__name__)


def process_prefix(stem: str, pid: int) -> str:
    """The start of the name of a working file or folder of process ``pid`` on this host:
    ``stem`` (``".publishing-"``), the pid, the host's name and ``-``; the rest of the name
    is the caller's (tempfile's random tail has no ``-``)."""
    # A name never holds "/"; "-" separates the parts.
    host = socket.gethostname().replace("/", "_").replace("-", "_") or "host"
    return f"{stem}{pid}-{host}-"


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (one of another user's counts)."""
    try:
        os.kill(pid, 0)  # signal 0: the checks only, nothing sent
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):  # not a pid at all
        return False
    return True


def remove_abandoned(folder: Path, stem: str, *, folders: bool, what: str) -> list[Path]:
    """Remove the entries in ``folder`` named by :func:`process_prefix` with ``stem`` whose
    process, of this host, no longer runs: folders (``folders``) or regular files, the kind
    the writer makes (anything else so named is not its: left alone). ``what`` names the
    writer in the log ("a publisher"). Returns those removed; an unreadable ``folder``
    removes nothing."""
    ours = process_prefix(stem, 0).removeprefix(f"{stem}0")
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(stem):
            continue
        pid_text, _, rest = entry.name.removeprefix(stem).partition("-")
        if not pid_text.isdigit() or not f"-{rest}".startswith(ours):
            continue
        if pid_alive(int(pid_text)):
            continue
        try:
            if folders != entry.is_dir(follow_symlinks=False) or (
                not folders and not entry.is_file(follow_symlinks=False)
            ):
                continue  # not what the writer makes (a symlink, a folder for a file...)
            if folders:
                shutil.rmtree(entry.path, ignore_errors=True)  # another may be removing it
            else:
                os.unlink(entry.path)
        except FileNotFoundError:  # another process removed it first
            continue
        except OSError as e:  # not ours to remove after all (permissions): left as it is
            logger.warning(
                "could not remove %s, left by %s that no longer runs: %s", entry.path, what, e
            )
            continue
        logger.info("removed %s, left by %s that no longer runs", entry.path, what)
        removed.append(Path(entry.path))
    return removed
