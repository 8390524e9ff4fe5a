"""API clients authenticate with HTTP Basic: client id as user name, secret as password.

Failed attempts are counted per client IP in the cache; past the limit the caller gets 429
before any secret is checked.
"""

import base64
import binascii

from django.conf import settings
from django.core.cache import cache
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from clients.models import ApiClient
from clients.services import client_authenticate

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


def _failure_key(request) -> str:
    return f"ttmt:client-auth-failures:{request.META.get('REMOTE_ADDR', '')}"


class ApiClientAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != b"basic":
            return None
        key = _failure_key(request)
        if cache.get(key, 0) >= settings.TTMT_CLIENT_AUTH_FAILURES_PER_MINUTE:
            raise exceptions.Throttled(wait=FAILURE_WINDOW_SECONDS, detail="Too many failed authentications.")
        try:
            client_id, _, secret = base64.b64decode(header[1], validate=True).decode().partition(":")
        except (IndexError, binascii.Error, UnicodeDecodeError):
            client_id, secret = "", ""
        client = client_authenticate(client_id=client_id, secret=secret) if client_id and secret else None
        if client is None:
            if cache.add(key, 1, FAILURE_WINDOW_SECONDS) is False:
                cache.incr(key)
            raise exceptions.AuthenticationFailed("Invalid client id or secret.")
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
