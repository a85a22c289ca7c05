"""Words the app shows that come from the services as data (error titles, account kinds and
states, ledger entry kinds), marked here so pybabel extracts them into the catalogues.

Templates translate them with ``_(value)``; an unlisted value shows as it came.
"""

from finbridge.app.i18n import N_

ERROR_TITLES = (
    N_("Request failed"),
    N_("Invalid input"),
    N_("Not found"),
    N_("Conflict"),
    N_("Idempotency key reused with a different request"),
    N_("Refused by a business rule"),
    N_("Insufficient funds"),
    N_("Limit exceeded"),
    N_("Account is frozen or closed"),
    N_("Currency mismatch"),
    N_("Authentication required"),
    N_("Forbidden"),
    N_("Step-up authentication required"),
    N_("Too many requests"),
    N_("Payload too large"),
    N_("Service unavailable"),
    N_("Customer consent required"),
)
ACCOUNT_WORDS = (
    N_("Current"),
    N_("Savings"),
    N_("Open"),
    N_("Frozen"),
    N_("Closed"),
)
# EntryKind values as the templates show them: ``value.replace('_', ' ')|capitalize``.
ENTRY_KINDS = (
    N_("Transfer"),
    N_("Deposit"),
    N_("Withdrawal"),
    N_("Opening balance"),
    N_("Card payment"),
    N_("Hold capture"),
    N_("Interest"),
    N_("Journal"),
)
# identity.RETENTION_NOTE, shown on the privacy page (tests/app check the two stay equal).
RETENTION = N_(
    "Account and transaction records are kept for at least five years after the relationship "
    "ends (PRC Anti-Money Laundering Law, art. 34); other personal data is deleted."
)
