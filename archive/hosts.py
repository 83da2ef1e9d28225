"""Who the chat's hosts are: the one rule that capture, statistics and the transcripts'
"Hosted by" line share.

A host is named in a chat file or with ``tweetchat import --host`` by handle (``@DrSmith``,
``drsmith``), by account id (``100000000000000001``) or either with its network
(``discord:100000000000000001``, ``x:@DrSmith``). Case and a leading ``@`` do not matter.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["author_is_host", "host_ident", "host_idents"]


def host_ident(value: str) -> str:
    """One spelling of a host as the rules compare it: stripped, case-folded, without the
    ``@`` (``"X:@DrSmith"`` -> ``"x:drsmith"``)."""
    value = value.strip().casefold()
    platform, sep, rest = value.rpartition(":")
    if sep:
        return f"{platform.removeprefix('@')}:{rest.removeprefix('@')}"
    return value.removeprefix("@")


def host_idents(hosts: Iterable[str]) -> frozenset[str]:
    """The identities the rules know hosts by (two spellings of the same host, ``@DrSmith``
    and ``drsmith``, give the same one); blank entries are none."""
    return frozenset(host_ident(host) for host in hosts if host.strip())


def author_is_host(hosts: frozenset[str], platform: str, handle: str, author_id: str) -> bool:
    """Whether the author (``platform`` name, ``handle`` without or with ``@``, the
    network's ``author_id``) is one of ``hosts`` (:func:`host_idents`): by handle or id,
    bare or with the network's name."""
    if not hosts:
        return False
    handle = host_ident(handle) if handle.strip() else ""
    author_id = author_id.strip().casefold()
    platform = platform.strip().casefold()
    return (handle != "" and (handle in hosts or f"{platform}:{handle}" in hosts)) or (
        author_id != "" and (author_id in hosts or f"{platform}:{author_id}" in hosts)
    )


def shown_hosts(hosts: Iterable[str], authors: Iterable[tuple[str, str, str]]) -> list[str]:
    """The hosts as a transcript names them, without ``@``: as they were given, except a
    host given by account id (``100000000000000001``, ``discord:1000...``) who posted in
    the chat, named by the handle they posted with. ``authors``: (platform, handle,
    author_id) of the chat's authors that may be named (not the opted-out)."""
    by_id: dict[str, str] = {}
    for platform, handle, author_id in authors:
        if not handle.strip() or not author_id.strip():
            continue
        ident = author_id.strip().casefold()
        by_id.setdefault(ident, handle)
        by_id.setdefault(f"{platform.strip().casefold()}:{ident}", handle)
    shown = []
    for host in hosts:
        if not host.strip():
            continue
        shown.append(by_id.get(host_ident(host), host.strip()).lstrip("@"))
    return shown
