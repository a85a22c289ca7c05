"""Open banking: an authorisation server to the FAPI 2.0 security profile, consents, account
and payment APIs for third-party apps, the app registry (issue 18).

``platform.openbanking`` is an :class:`OpenBankingService`: ``.apps`` (register, approve, the
app store), ``.server`` (PAR, the consent decision, token, introspection, revocation, resource
token checks, consents), ``.resources`` (accounts, balances, transactions, payments for a
verified :class:`Grant`), ``.audit``, ``.sandbox`` (each developer's synthetic sandbox; read and
reset through ``sandbox_of`` / ``reset_sandbox``).
"""

from finbridge.openbanking import events as events
from finbridge.openbanking.apps import CATEGORIES, SCOPES, App, AppStatus
from finbridge.openbanking.audit import AuditRecord
from finbridge.openbanking.consents import PERMISSIONS, Consent, ConsentKind, ConsentStatus
from finbridge.openbanking.developers import Claim, Developer, DeveloperStatus
from finbridge.openbanking.errors import OAuthError
from finbridge.openbanking.logos import MAX_BYTES as MAX_LOGO_BYTES
from finbridge.openbanking.logos import SERVE_HEADERS as LOGO_HEADERS
from finbridge.openbanking.ports import SecondFactorPort
from finbridge.openbanking.resources import Payment
from finbridge.openbanking.sandbox import Sandbox, SandboxCustomer
from finbridge.openbanking.server import (
    PAYMENT_CONSENT_ACTION,
    REQUEST_URI_PREFIX,
    Grant,
    PendingAuthorisation,
)
from finbridge.openbanking.service import OpenBankingService
from finbridge.openbanking.usage import RATE_LIMITED, SERVED, Usage, refused

__all__ = [
    "CATEGORIES",
    "LOGO_HEADERS",
    "MAX_LOGO_BYTES",
    "PAYMENT_CONSENT_ACTION",
    "PERMISSIONS",
    "RATE_LIMITED",
    "REQUEST_URI_PREFIX",
    "SCOPES",
    "SERVED",
    "App",
    "AppStatus",
    "AuditRecord",
    "Claim",
    "Consent",
    "ConsentKind",
    "ConsentStatus",
    "Developer",
    "DeveloperStatus",
    "Grant",
    "OAuthError",
    "OpenBankingService",
    "Payment",
    "PendingAuthorisation",
    "Sandbox",
    "SandboxCustomer",
    "SecondFactorPort",
    "Usage",
    "events",
    "refused",
]
