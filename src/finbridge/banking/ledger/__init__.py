"""The posting core: one rule for every balance change, one way to post an entry.

Private to banking: the service modules use it, interfaces and other engines never do.
"""

from finbridge.banking.ledger._posting import (
    Applied,
    EntrySpec,
    KnownRefusal,
    Replay,
    apply_legs,
    fingerprint,
    insert_ignoring_conflict,
    leg_params,
    post_entry,
    post_standalone,
    seal_entry,
    stored_entry,
    update_many,
)
from finbridge.banking.ledger._rule import RULE, Condition, Leg, explain, refusal
from finbridge.banking.ledger._sqlite import post_sqlite, warm_sqlite
from finbridge.banking.ledger._statements import compile_all

__all__ = [
    "RULE",
    "Applied",
    "Condition",
    "EntrySpec",
    "KnownRefusal",
    "Leg",
    "Replay",
    "apply_legs",
    "compile_all",
    "explain",
    "fingerprint",
    "insert_ignoring_conflict",
    "leg_params",
    "post_entry",
    "post_sqlite",
    "post_standalone",
    "refusal",
    "seal_entry",
    "stored_entry",
    "update_many",
    "warm_sqlite",
]
