"""HTTP interface: FastAPI app factory, routers under /v1, problem+json errors."""

from finbridge.api.app import create_app

__all__ = ["create_app"]
