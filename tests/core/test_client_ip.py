"""core.client_ip: X-Forwarded-For is believed only from the configured proxies."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from core.client_ip import client_ip


def _request(remote: str, forwarded: str | None = None):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **headers)


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TTMT_TRUSTED_PROXIES = []
    assert client_ip(_request("198.51.100.7", "203.0.113.9")) == "198.51.100.7"


def test_a_spoofed_header_from_a_client_that_is_not_a_proxy_is_ignored(settings):
    settings.TTMT_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(_request("198.51.100.7", "10.0.0.1, 203.0.113.9")) == "198.51.100.7"


def test_from_a_trusted_proxy_the_address_it_appended_is_the_client(settings):
    settings.TTMT_TRUSTED_PROXIES = ["10.0.0.0/8", "192.0.2.10"]
    assert client_ip(_request("10.0.0.2", "203.0.113.9")) == "203.0.113.9"
    # what the client wrote itself is to the left of what the proxies appended
    assert client_ip(_request("10.0.0.2", "1.2.3.4, 203.0.113.9")) == "203.0.113.9"
    # two trusted proxies in a row
    assert client_ip(_request("10.0.0.2", "1.2.3.4, 203.0.113.9, 192.0.2.10")) == "203.0.113.9"


def test_a_proxy_without_the_header_or_with_a_garbled_one_is_the_client(settings):
    settings.TTMT_TRUSTED_PROXIES = ["10.0.0.2"]
    assert client_ip(_request("10.0.0.2")) == "10.0.0.2"
    assert client_ip(_request("10.0.0.2", "not-an-address")) == "10.0.0.2"


def test_a_wrong_proxy_setting_is_a_configuration_error(settings):
    settings.TTMT_TRUSTED_PROXIES = ["10.0.0.0/33"]
    with pytest.raises(ImproperlyConfigured):
        client_ip(_request("10.0.0.2"))
