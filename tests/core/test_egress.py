"""core.egress: which addresses outbound connections may reach, and one look-up per connection."""

import socket

import pytest

from core import egress

REFUSED = [
    "127.0.0.1",
    "127.8.8.8",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "169.254.169.254",  # cloud metadata
    "169.254.1.1",
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",  # documentation
    "2130706433",  # 127.0.0.1 written as a number: the resolver turns it into an address
    "0x7f.1",
    "localhost",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",  # AWS metadata over IPv6
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "2002:7f00:1::",  # 6to4 around 127.0.0.1
    "2002:a00:1::",  # 6to4 around 10.0.0.1
    "64:ff9b::a00:1",  # NAT64 around 10.0.0.1
]


@pytest.mark.parametrize("host", REFUSED)
def test_non_public_addresses_are_refused(settings, host):
    settings.TTMT_ALLOW_PRIVATE_ADDRESSES = False
    with pytest.raises(egress.AddressNotAllowed) as refused:
        egress.checked_address(host, 6379)
    assert refused.value.message == "This address is not allowed."
    with pytest.raises(egress.AddressNotAllowed):
        egress.refuse_if_not_allowed(host, 6379)


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("8.8.8.8", "8.8.8.8"),
        ("2606:4700:4700::1111", "2606:4700:4700::1111"),
    ],
)
def test_public_addresses_are_returned_to_connect_to(settings, host, address):
    settings.TTMT_ALLOW_PRIVATE_ADDRESSES = False
    assert egress.checked_address(host, 3306) == (address, 3306)


@pytest.mark.parametrize("host", ["127.0.0.1", "10.1.2.3", "::1", "fe80::1", "::ffff:192.168.1.1"])
def test_the_operator_setting_allows_private_addresses(settings, host):
    settings.TTMT_ALLOW_PRIVATE_ADDRESSES = True
    ip, port = egress.checked_address(host, 3306)
    assert port == 3306


@pytest.mark.parametrize(
    "host",
    ["169.254.169.254", "fd00:ec2::254", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "100.100.100.200"],
)
def test_cloud_metadata_is_refused_even_with_the_setting(settings, host):
    settings.TTMT_ALLOW_PRIVATE_ADDRESSES = True
    with pytest.raises(egress.AddressNotAllowed):
        egress.checked_address(host, 80)


def _resolving(monkeypatch, answers: dict[str, list[str]]) -> list[str]:
    """Make ``answers`` the resolver's (name -> addresses); returns the names looked up."""
    looked_up = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real(host, port, *args, **kwargs)
        looked_up.append(host)
        if not answers[host]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


def test_a_name_is_refused_when_any_of_its_addresses_is(settings, monkeypatch):
    settings.TTMT_ALLOW_PRIVATE_ADDRESSES = False
    looked_up = _resolving(
        monkeypatch, {"mixed.example": ["8.8.8.8", "10.0.0.7"], "public.example": ["8.8.4.4", "1.1.1.1"]}
    )
    with pytest.raises(egress.AddressNotAllowed):
        egress.checked_address("mixed.example", 443)
    assert egress.checked_address("public.example", 443) == ("8.8.4.4", 443)
    assert looked_up == ["mixed.example", "public.example"]


def test_an_unresolvable_name_is_not_found_at_connect_time_and_accepted_at_save_time(settings, monkeypatch):
    settings.TTMT_ALLOW_PRIVATE_ADDRESSES = False
    _resolving(monkeypatch, {"nowhere.example": []})
    with pytest.raises(egress.HostNotFound):
        egress.checked_address("nowhere.example", 443)
    egress.refuse_if_not_allowed("nowhere.example", 443)  # checked again at every connection
