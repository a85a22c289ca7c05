"""Identity: KYC, PII vault, consents, passwords, TOTP, passkeys, face, sessions, step-up, audit,
and authentication of every credential the interfaces accept.

The platform builds one :class:`IdentityServices` (:meth:`IdentityServices.build`); interfaces
and other engines use it and the names below, never the modules behind them. Other engines use
three entry points:

- ``consents.require_consent(customer_id, purpose, data=None)`` before using a customer's data;
- ``step_up.require_step_up(principal, action, demanded=False)`` before a high-risk action;
- ``persons.require_adult(customer_id)`` before offering credit;
- ``inbox.deliver(actor, customer_id, kind=..., title=..., body=..., link=None, ref=None)`` to
  put a message in the customer's app inbox (idempotent per kind and ``ref``);
  ``inbox.deliver_many(actor, kind, [OutgoingMessage(...), ...])`` for a campaign's batch.

Identity needs one thing from banking, the customer a registering person becomes, through the
:class:`CustomerFactory` port. Face models (dlib) load on first use, not on import.
"""

from finbridge.identity.apikeys import KEY_PREFIX, ApiKey, ApiKeyService, IssuedKey, VerifiedKeys
from finbridge.identity.audit import AuditEntry, AuditLog, AuditReport
from finbridge.identity.authenticator import (
    Authenticator,
    ClientInfo,
    ConsoleSignIn,
    credential_from_headers,
)
from finbridge.identity.config import HIGH_RISK_ACTIONS, IdentityConfig
from finbridge.identity.consent import Consent, ConsentRequired, ConsentService
from finbridge.identity.console_sessions import (
    CONSOLE_ABSOLUTE_TIMEOUT,
    CONSOLE_IDLE_TIMEOUT,
    CONSOLE_SESSION_PREFIX,
    ConsoleSessions,
)
from finbridge.identity.credentials import check_password_policy
from finbridge.identity.face_eval import evaluate_faces, face_eval_sets, format_face_report
from finbridge.identity.faceauth import (
    FaceMatch,
    LivenessChallenge,
    LivenessFailed,
    LivenessResult,
)
from finbridge.identity.guard import StepUpGuard
from finbridge.identity.inbox import InboxMessage, InboxService, OutgoingMessage
from finbridge.identity.login import LoginResult
from finbridge.identity.passkeys import Passkey
from finbridge.identity.persons import KycCheck, PersonView, RegistrationRequest
from finbridge.identity.ports import CustomerFactory, MintedCustomerIds
from finbridge.identity.privacy import RETENTION_NOTE, PrivacyRequest, PrivacyRequests
from finbridge.identity.services import IdentityServices
from finbridge.identity.sessions import SessionInfo, TokenPair
from finbridge.identity.status import CustomerStatus
from finbridge.identity.stepup import StepUpService
from finbridge.identity.vault import (
    PiiVault,
    generate_key_spec,
    install_log_masking,
    mask_card,
    mask_id_number,
    mask_name,
    mask_phone,
)

__all__ = [
    "CONSOLE_ABSOLUTE_TIMEOUT",
    "CONSOLE_IDLE_TIMEOUT",
    "CONSOLE_SESSION_PREFIX",
    "HIGH_RISK_ACTIONS",
    "KEY_PREFIX",
    "RETENTION_NOTE",
    "ApiKey",
    "ApiKeyService",
    "AuditEntry",
    "AuditLog",
    "AuditReport",
    "Authenticator",
    "ClientInfo",
    "Consent",
    "ConsentRequired",
    "ConsentService",
    "ConsoleSessions",
    "ConsoleSignIn",
    "CustomerFactory",
    "CustomerStatus",
    "FaceMatch",
    "IdentityConfig",
    "IdentityServices",
    "InboxMessage",
    "InboxService",
    "IssuedKey",
    "KycCheck",
    "LivenessChallenge",
    "LivenessFailed",
    "LivenessResult",
    "LoginResult",
    "MintedCustomerIds",
    "OutgoingMessage",
    "Passkey",
    "PersonView",
    "PiiVault",
    "PrivacyRequest",
    "PrivacyRequests",
    "RegistrationRequest",
    "SessionInfo",
    "StepUpGuard",
    "StepUpService",
    "TokenPair",
    "VerifiedKeys",
    "check_password_policy",
    "credential_from_headers",
    "evaluate_faces",
    "face_eval_sets",
    "format_face_report",
    "generate_key_spec",
    "install_log_masking",
    "mask_card",
    "mask_id_number",
    "mask_name",
    "mask_phone",
]
