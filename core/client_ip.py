"""The address a request comes from, for rate limits and logs.

``REMOTE_ADDR``, unless it is one of the proxies in ``TTMT_TRUSTED_PROXIES`` (addresses or CIDRs):
then ``X-Forwarded-For`` is read from the right, past every trusted proxy, and the first address
that is not one is the client. Whatever a client writes into the header itself lies to the left of
what the trusted proxies appended, so it is never taken while a trusted proxy reports the client.
"""

import functools
import ipaddress

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)
    except ValueError as error:
        raise ImproperlyConfigured(f"TTMT_TRUSTED_PROXIES: {error}") from None


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(address, networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def client_ip(request) -> str:
    """The client's IP address as text (``REMOTE_ADDR`` when no trusted proxy reports one)."""
    remote = request.META.get("REMOTE_ADDR", "")
    networks = _networks(tuple(settings.TTMT_TRUSTED_PROXIES))
    if not _trusted(_address(remote), networks):
        return remote
    client = remote
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _address(hop)
        if address is None:  # a garbled hop: the last address a trusted proxy vouched for
            return client
        client = str(address)
        if not _trusted(address, networks):
            return client
    return client
