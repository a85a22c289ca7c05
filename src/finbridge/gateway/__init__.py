"""The risk decision gateway: ``POST /v1/risk/decisions`` at volume, in its own process.

An interface beside the API and the console (it imports neither): a small ASGI app built from a
``Platform``, answering with ``platform.risk`` and authenticating with ``platform.api_keys``.
"""

from finbridge.gateway._app import DECISIONS, DecisionGateway, create_gateway
from finbridge.gateway._process import GatewayProcess, gateway_settings, run_gateway

__all__ = [
    "DECISIONS",
    "DecisionGateway",
    "GatewayProcess",
    "create_gateway",
    "gateway_settings",
    "run_gateway",
]
