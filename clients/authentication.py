"""API clients authenticate with HTTP Basic: client id as user name, secret as password.

The right id and secret always get through. Failed attempts are counted in the cache per client
id and per client IP (``core.client_ip``); past ``TTMT_CLIENT_AUTH_FAILURES_PER_MINUTE`` of either,
further failures get 429 instead of 401 until the minute is over.
"""

import base64
import binascii
import hashlib

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from clients.models import ApiClient
from clients.services import client_authenticate
from core import rate
from core.client_ip import client_ip

FAILURE_WINDOW_SECONDS = 60


class ApiClientPrincipal:
    """``request.user`` for a request made by an API client (``request.auth`` is the client)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = id = None

    def __init__(self, client: ApiClient):
        self.client = client

    def __str__(self) -> str:
        return f"API client {self.client.client_id}"


def _failure_keys(request, client_id: str) -> list[str]:
    keys = [f"ttmt:client-auth-failures:ip:{client_ip(request)}"]
    if client_id:  # any text a caller sends: its digest keeps the key short
        keys.append(f"ttmt:client-auth-failures:id:{hashlib.sha256(client_id.encode()).hexdigest()}")
    return keys


def _failed(request, client_id: str) -> exceptions.APIException:
    """Count the failure; 429 once the IP or the client id is past the limit, else 401."""
    counts = [rate.count_hit(key, window=FAILURE_WINDOW_SECONDS) for key in _failure_keys(request, client_id)]
    if max(counts) > settings.TTMT_CLIENT_AUTH_FAILURES_PER_MINUTE:
        return exceptions.Throttled(wait=FAILURE_WINDOW_SECONDS, detail="Too many failed authentications.")
    return exceptions.AuthenticationFailed("Invalid client id or secret.")


class ApiClientAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"basic":
            return None
        try:
            client_id, _, secret = base64.b64decode(header[1], validate=True).decode().partition(":")
        except (IndexError, binascii.Error, UnicodeDecodeError):
            client_id, secret = "", ""
        client = client_authenticate(client_id=client_id, secret=secret) if client_id and secret else None
        if client is None:
            raise _failed(request, client_id)
        return ApiClientPrincipal(client), client

    def authenticate_header(self, request) -> str:
        return 'Basic realm="ttmt-api"'


class ApiClientAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiClientAuthentication
    name = "apiClient"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "basic",
            "description": "API client: client id as user name, client secret as password.",
        }
