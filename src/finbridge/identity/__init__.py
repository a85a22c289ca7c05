"""Identity: KYC, PII vault, consents, passwords, TOTP, passkeys, face, sessions, step-up, audit.

Other engines use three entry points, all on :class:`IdentityServices` (built once by the
interfaces with :meth:`IdentityServices.build`):

- ``consents.require_consent(customer_id, purpose, data=None)`` before using a customer's data;
- ``step_up.require_step_up(principal, action, demanded=False)`` before a high-risk action;
- ``persons.require_adult(customer_id)`` before offering credit.
"""

from finbridge.identity.audit import AuditLog, AuditReport
from finbridge.identity.config import HIGH_RISK_ACTIONS, IdentityConfig
from finbridge.identity.consent import ConsentRequired, ConsentService
from finbridge.identity.persons import PersonView, RegistrationRequest
from finbridge.identity.services import IdentityServices
from finbridge.identity.sessions import TokenPair
from finbridge.identity.stepup import StepUpService
from finbridge.identity.vault import PiiVault, mask_card, mask_id_number, mask_name, mask_phone

__all__ = [
    "HIGH_RISK_ACTIONS",
    "AuditLog",
    "AuditReport",
    "ConsentRequired",
    "ConsentService",
    "IdentityConfig",
    "IdentityServices",
    "PersonView",
    "PiiVault",
    "RegistrationRequest",
    "StepUpService",
    "TokenPair",
    "mask_card",
    "mask_id_number",
    "mask_name",
    "mask_phone",
]
