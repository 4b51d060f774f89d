"""Who is on the other end of an HTTP request: the peer, or what a trusted proxy says it is.

``X-Forwarded-For`` is a list anyone can write to, so it is believed only when the peer that
delivered the request is one of our proxies (``ABONENT_TRUSTED_PROXIES``). Each proxy appends
the address it saw, so the client is the right-most entry that is not itself a trusted proxy;
entries left of it were written by the client and prove nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.requests import HTTPConnection

Network = IPv4Network | IPv6Network
UNKNOWN = "unknown"


def client_address(connection: HTTPConnection, trusted: Sequence[Network]) -> str:
    peer = connection.client.host if connection.client else None
    return resolve(peer, connection.headers.getlist("x-forwarded-for"), trusted)


def resolve(peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    """The client address given the peer and the ``X-Forwarded-For`` header values."""
    current = _parse(peer) if peer else None
    if current is None:
        return peer or UNKNOWN
    if not _is_trusted(current, trusted):
        return str(current)
    hops = [part.strip() for value in forwarded_for for part in value.split(",")]
    for hop in reversed(hops):
        parsed = _parse(hop)
        if parsed is None:  # garbage from the client's side: the last proxy is all we know
            break
        current = parsed
        if not _is_trusted(current, trusted):
            break
    return str(current)


def _parse(value: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address(value)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IPv4Address | IPv6Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)
