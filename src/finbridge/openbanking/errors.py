"""OAuth errors: each refusal carries the registered OAuth error code (RFC 6749, 6750, 9449)
and the HTTP status the spec gives it, so the routes render ``{"error": ...}`` as a client
library expects, while the console and CLI treat it as any other finbridge error."""

from __future__ import annotations

from finbridge.core.errors import FinbridgeError


class OAuthError(FinbridgeError):
    """A refusal by the authorisation or resource server.

    ``error`` is the OAuth code (``invalid_grant``, ``invalid_dpop_proof``...), ``status`` the
    HTTP status, ``scheme`` set when the answer needs ``WWW-Authenticate`` (resource calls),
    ``nonce`` when the client must retry with this DPoP nonce.
    """

    title = "OAuth request refused"

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        scheme: str | None = None,
        nonce: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(description, field=field)
        self.error = error
        self.code = error
        self.status = status
        self.scheme = scheme
        self.nonce = nonce

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.detail}

    def headers(self) -> dict[str, str]:
        headers = {"Cache-Control": "no-store"}
        if self.scheme is not None:
            headers["WWW-Authenticate"] = (
                f'{self.scheme} error="{self.error}", error_description="{self.detail}"'
                + (', algs="ES256 PS256 EdDSA"' if self.scheme == "DPoP" else "")
            )
        if self.nonce is not None:
            headers["DPoP-Nonce"] = self.nonce
        return headers


def invalid_request(description: str, field: str | None = None) -> OAuthError:
    return OAuthError("invalid_request", description, field=field)


def invalid_client(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, status=401)


def invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


def invalid_dpop(description: str, *, resource: bool = False) -> OAuthError:
    return OAuthError(
        "invalid_dpop_proof",
        description,
        status=401 if resource else 400,
        scheme="DPoP" if resource else None,
    )


def invalid_token(description: str) -> OAuthError:
    return OAuthError("invalid_token", description, status=401, scheme="DPoP")


def insufficient_scope(description: str) -> OAuthError:
    return OAuthError("insufficient_scope", description, status=403, scheme="DPoP")
