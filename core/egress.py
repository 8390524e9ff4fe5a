"""Outbound connections made on a user's behalf reach public addresses only.

:func:`checked_address` resolves a host once and returns the address to connect to: connect to that
address, never to the name again (a second look-up could answer differently). Refused: loopback,
private, shared (100.64.0.0/10), link-local, unspecified, multicast, reserved and documentation
addresses, also inside IPv4-mapped, 6to4, Teredo and NAT64 IPv6 addresses, unless the operator sets
``TTMT_ALLOW_PRIVATE_ADDRESSES`` (the embedded default does, to reach services on this machine).
Cloud metadata addresses are refused even then.
"""

import contextlib
import ipaddress
import socket

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

NOT_ALLOWED_MESSAGE = "This address is not allowed."

# instance metadata services (AWS, GCP, Azure, OpenStack: 169.254.169.254; AWS over IPv6; AWS ECS
# task metadata; Alibaba Cloud; Oracle Cloud): the host's cloud credentials are one request away
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(address)
    for address in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200", "192.0.0.192")
)
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")


class AddressNotAllowed(Exception):
    """The host is, or resolves to, an address outbound connections may not reach."""

    def __init__(self, host: str) -> None:
        super().__init__(NOT_ALLOWED_MESSAGE)
        self.host = host
        self.message = NOT_ALLOWED_MESSAGE


class HostNotFound(OSError):
    """The host name does not resolve."""


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # (server, client): the client is where packets go
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_public(address: IPAddress) -> bool:
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
    )


def address_allowed(address: IPAddress) -> bool:
    """May an outbound connection reach this address (with the operator's setting)?"""
    embedded = _embedded_ipv4(address)
    if address in METADATA_ADDRESSES or (embedded is not None and embedded in METADATA_ADDRESSES):
        return False
    if settings.TTMT_ALLOW_PRIVATE_ADDRESSES:
        return True
    return _is_public(address) and (embedded is None or _is_public(embedded))


def checked_address(host: str, port: int) -> tuple[str, int]:
    """The (ip, port) to connect to for ``host``: resolved once, every address it resolves to allowed.

    Raises :class:`AddressNotAllowed` when any of them is refused, :class:`HostNotFound` when the
    name does not resolve.
    """
    try:
        resolved = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise HostNotFound(f"{host} does not resolve") from error
    addresses = []
    for *_, sockaddr in resolved:
        try:
            address = ipaddress.ip_address(sockaddr[0])
        except ValueError:  # nothing this module can judge
            raise AddressNotAllowed(host) from None
        if not address_allowed(address):
            raise AddressNotAllowed(host)
        addresses.append(address)
    if not addresses:
        raise HostNotFound(f"{host} does not resolve")
    return str(addresses[0]), port


def refuse_if_not_allowed(host: str, port: int) -> None:
    """Save-time check: refuses a host that is, or now resolves to, a refused address. A name that
    does not resolve yet is accepted: every connection checks it again."""
    with contextlib.suppress(HostNotFound):
        checked_address(host, port)
