"""The banking service, split by concept behind one class.

Every public method takes the acting :class:`~finbridge.core.Principal` first. Customers (and
third parties acting for one) see and debit only their own accounts; someone else's account is
reported as not found. Operators act by scope (``customers:read|write``, ``accounts:read|write``,
``transfers:write``). Every money-moving command takes an idempotency key, scoped to the actor.

- :mod:`._customers` customers; :mod:`._accounts` accounts, history, the ledger audit;
- :mod:`._activity` a customer's accounts with their newest postings, history search;
- :mod:`._movements` transfers and teller cash; :mod:`._approvals` an operator's large
  movement waiting for a second operator (dual control); :mod:`._holds` holds;
- :mod:`._journal` multi-leg journal entries (FX conversions, payments with fees);
- :mod:`._batch` card replay and interest; :mod:`._onboarding` bulk onboarding;
- :mod:`._core` what they share: transactions, events, the posting guard.
"""

from finbridge.banking.service._accounts import AccountCommands
from finbridge.banking.service._activity import ActivityCommands
from finbridge.banking.service._batch import BatchCommands
from finbridge.banking.service._customers import CustomerCommands
from finbridge.banking.service._holds import HoldCommands
from finbridge.banking.service._journal import JournalCommands
from finbridge.banking.service._movements import MovementCommands
from finbridge.banking.service._onboarding import OnboardingCommands


class BankingService(
    CustomerCommands,
    AccountCommands,
    ActivityCommands,
    JournalCommands,
    MovementCommands,
    HoldCommands,
    BatchCommands,
    OnboardingCommands,
):
    """The banking core's only public entry point for interfaces and other engines.

    ``BankingService(engine, clock, *, guard=None, business_timezone="Asia/Shanghai")``.
    """


__all__ = ["BankingService"]
