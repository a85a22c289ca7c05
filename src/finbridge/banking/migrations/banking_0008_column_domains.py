"""banking: on PostgreSQL the ledger's one-column rules become domains, the static shape a trigger

Revision ID: banking_0008
Revises: banking_0007
Create Date: 2026-12-07

PostgreSQL re-reads every CHECK constraint of a table from its stored text on each statement
that inserts or updates the table (``ExecRelCheck`` parses ``conbin`` once per result
relation, so once per execution of a prepared statement too), and then evaluates them all,
whatever columns changed. A transfer updates two account rows (two result relations) and
inserts two postings: the accounts' eleven checks and the postings' four were parsed and
evaluated three times per transfer. Measured (docs/benchmarks.md, Ledger, 2026-12-07): those
checks were ~15% of the backend's CPU per transfer, ``pg_strtok`` alone ~6%.

The same rules, enforced as strictly, at a lower cost:

* Rules on one column become a domain over the column's type (``banking_currency``,
  ``banking_balance_minor``, ...). A domain's check is parsed once per connection (the type
  cache) and runs when a value is stored in the column, on INSERT and on an UPDATE that sets
  the column: a transfer checks the balance it writes, not the currency it does not touch.
* Rules across columns that a posting never sets (only internal accounts may go negative; an
  internal account has a code and no customer) become a BEFORE INSERT / UPDATE OF those columns
  trigger, which does not fire for a balance update. It raises ``check_violation``, as the
  constraints did.
* The rule a posting exists for (available money stays above the floor) stays a CHECK.

Existing rows satisfy the rules already (the checks held them); ``ALTER COLUMN ... TYPE`` checks
them again. SQLite is unchanged (no domains; its checks are compiled into the prepared
statement once). The bounds are frozen copies of banking_0004's, the lists of banking_0001's.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "banking_0008"
down_revision: str | Sequence[str] | None = "banking_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AMOUNT = 10**15
_BALANCE = 10**17
_CURRENCIES = "'CNY', 'USD', 'HKD', 'EUR', 'GBP', 'JPY', 'SGD', 'TWD', 'KWD'"

# name, base type, named checks on VALUE
_DOMAINS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("banking_currency", "varchar(3)", (("currency", f"VALUE IN ({_CURRENCIES})"),)),
    (
        "banking_account_kind",
        "varchar(16)",
        (("kind", "VALUE IN ('current', 'savings', 'internal')"),),
    ),
    (
        "banking_account_status",
        "varchar(16)",
        (("status", "VALUE IN ('open', 'frozen', 'closed')"),),
    ),
    (
        "banking_balance_minor",
        "bigint",
        (("balance_bounds", f"VALUE BETWEEN -{_BALANCE} AND {_BALANCE}"),),
    ),
    (
        "banking_held_minor",
        "bigint",
        (("held_nonneg", "VALUE >= 0"), ("held_bounds", f"VALUE <= {2 * _BALANCE}")),
    ),
    (
        "banking_floor_minor",
        "bigint",
        (("floor_nonpos", "VALUE <= 0"), ("floor_bounds", f"VALUE >= -{_BALANCE}")),
    ),
    (
        "banking_amount_minor",
        "bigint",
        (("nonzero", "VALUE <> 0"), ("amount_bounds", f"VALUE BETWEEN -{_AMOUNT} AND {_AMOUNT}")),
    ),
)

# table, column, domain
_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("banking_accounts", "currency", "banking_currency"),
    ("banking_accounts", "kind", "banking_account_kind"),
    ("banking_accounts", "status", "banking_account_status"),
    ("banking_accounts", "balance_minor", "banking_balance_minor"),
    ("banking_accounts", "held_minor", "banking_held_minor"),
    ("banking_accounts", "floor_minor", "banking_floor_minor"),
    ("banking_postings", "currency", "banking_currency"),
    ("banking_postings", "amount_minor", "banking_amount_minor"),
    ("banking_postings", "balance_after_minor", "banking_balance_minor"),
)

# The table checks the domains and the trigger replace: table, name, condition.
_CHECKS: tuple[tuple[str, str, str], ...] = (
    ("banking_accounts", "ck_banking_accounts_kind", "kind IN ('current', 'savings', 'internal')"),
    ("banking_accounts", "ck_banking_accounts_status", "status IN ('open', 'frozen', 'closed')"),
    ("banking_accounts", "ck_banking_accounts_currency", f"currency IN ({_CURRENCIES})"),
    ("banking_accounts", "ck_banking_accounts_held_nonneg", "held_minor >= 0"),
    ("banking_accounts", "ck_banking_accounts_floor_nonpos", "floor_minor <= 0"),
    (
        "banking_accounts",
        "ck_banking_accounts_negative_only_internal",
        "allow_negative = false OR kind = 'internal'",
    ),
    (
        "banking_accounts",
        "ck_banking_accounts_internal_shape",
        "(kind = 'internal') = (customer_id IS NULL AND internal_code IS NOT NULL)",
    ),
    (
        "banking_accounts",
        "ck_banking_accounts_balance_bounds",
        f"balance_minor BETWEEN -{_BALANCE} AND {_BALANCE}",
    ),
    ("banking_accounts", "ck_banking_accounts_held_bounds", f"held_minor <= {2 * _BALANCE}"),
    ("banking_accounts", "ck_banking_accounts_floor_bounds", f"floor_minor >= -{_BALANCE}"),
    ("banking_postings", "ck_banking_postings_nonzero", "amount_minor <> 0"),
    ("banking_postings", "ck_banking_postings_currency", f"currency IN ({_CURRENCIES})"),
    (
        "banking_postings",
        "ck_banking_postings_amount_bounds",
        f"amount_minor BETWEEN -{_AMOUNT} AND {_AMOUNT}",
    ),
    (
        "banking_postings",
        "ck_banking_postings_balance_after_bounds",
        f"balance_after_minor BETWEEN -{_BALANCE} AND {_BALANCE}",
    ),
)

_SHAPE_FUNCTION = """
CREATE FUNCTION banking_account_shape() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (NEW.allow_negative = false OR NEW.kind = 'internal') THEN
        RAISE EXCEPTION 'banking_accounts row % violates check negative_only_internal: only'
            ' the bank''s internal accounts may go negative', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF (NEW.kind = 'internal') <> (NEW.customer_id IS NULL AND NEW.internal_code IS NOT NULL)
    THEN
        RAISE EXCEPTION 'banking_accounts row % violates check internal_shape: an internal'
            ' account has a code and no customer, a customer''s account the reverse', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$
"""

_SHAPE_TRIGGER = """
CREATE TRIGGER banking_accounts_shape
BEFORE INSERT OR UPDATE OF kind, customer_id, internal_code, allow_negative ON banking_accounts
FOR EACH ROW EXECUTE FUNCTION banking_account_shape()
"""

_BASE_TYPES = {name: base for name, base, _ in _DOMAINS}


def _alter_types(table: str, to_domain: bool) -> None:
    clauses = [
        f"ALTER COLUMN {column} TYPE {domain if to_domain else _BASE_TYPES[domain]}"
        for t, column, domain in _COLUMNS
        if t == table
    ]
    op.execute(f"ALTER TABLE {table} {', '.join(clauses)}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, base, checks in _DOMAINS:
        rules = " ".join(f"CONSTRAINT {rule} CHECK ({condition})" for rule, condition in checks)
        op.execute(f"CREATE DOMAIN {name} AS {base} {rules}")
    for table, name, _ in _CHECKS:
        op.drop_constraint(op.f(name), table, type_="check")
    for table in ("banking_accounts", "banking_postings"):
        _alter_types(table, to_domain=True)
    op.execute(_SHAPE_FUNCTION)
    op.execute(_SHAPE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS banking_accounts_shape ON banking_accounts")
    op.execute("DROP FUNCTION IF EXISTS banking_account_shape()")
    for table in ("banking_accounts", "banking_postings"):
        _alter_types(table, to_domain=False)
    for name, _, _ in _DOMAINS:
        op.execute(f"DROP DOMAIN {name}")
    for table, name, condition in _CHECKS:
        op.create_check_constraint(op.f(name), table, condition)
