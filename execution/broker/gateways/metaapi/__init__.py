"""The MetaApi gateway (execution path) and the SDK exception translation.

The setup path (account creation, deployment, token narrowing with the master token) lives in
:mod:`execution.broker.gateways.metaapi.provisioning` and is deliberately not imported here.
"""

from execution.broker.gateways.metaapi.adapter import MetaApiGateway, token_is_unrestricted
from execution.broker.gateways.metaapi.errors import platform_code, retry_after_seconds, translate_exception

__all__ = [
    "MetaApiGateway",
    "platform_code",
    "retry_after_seconds",
    "token_is_unrestricted",
    "translate_exception",
]
