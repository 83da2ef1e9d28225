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
    ``@`` (``"X:@DrSmith"`` and ``"x: drsmith"`` -> ``"x:drsmith"``)."""
    value = value.strip().casefold()
    platform, sep, rest = value.rpartition(":")
    if sep:  # blanks around the colon are a slip ("discord: drsmith")
        return f"{platform.strip().removeprefix('@')}:{rest.strip().removeprefix('@')}"
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
    """The hosts as a transcript names them, without ``@``, each once: a host who posted in
    the chat by the handle they posted with (however given: by id, with the network, in
    another case), any other by the name given, without its network (``x:@carol`` is
    ``carol``). ``authors``: (platform, handle, author_id) of the chat's authors that may be
    named (not the opted-out). Two spellings of one host (``drsmith`` and its id) are one."""
    named = [(p, h, a) for p, h, a in authors if h.strip()]
    shown: dict[str, str] = {}  # case-folded -> as shown, in the order given
    for host in hosts:
        if not host.strip():
            continue
        ident = frozenset({host_ident(host)})
        name = next((h for p, h, a in named if author_is_host(ident, p, h, a)), None)
        if name is None:
            name = host.rpartition(":")[2]
        name = name.strip().lstrip("@")
        if name:
            shown.setdefault(name.casefold(), name)
    return list(shown.values())
