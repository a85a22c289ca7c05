"""banking: money bounds enforced by the database (balances, held amounts, floors, postings, holds)

Revision ID: banking_0004
Revises: banking_0003
Create Date: 2026-12-06

The service refuses a movement above ``MAX_AMOUNT_MINOR`` and a balance beyond
``MAX_BALANCE_MINOR`` (``finbridge.core.money``) with a 422 before writing; the database refuses
them too, so raw SQL or a future path cannot store an out-of-range value:

* PostgreSQL: CHECK constraints on the ranges (an overflowing ``bigint`` already aborts there).
* SQLite: an integer that overflows 64 bits silently becomes a REAL (a rounded balance), and
  ``ALTER TABLE`` cannot add a CHECK without rebuilding the ledger's tables, so BEFORE INSERT /
  UPDATE triggers refuse any value whose type is not ``integer`` or which is out of range.

The bounds are frozen copies of the values at this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "banking_0004"
down_revision: str | Sequence[str] | None = "banking_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AMOUNT = 10**15
_BALANCE = 10**17

# (table, constraint name, condition on plain column names)
_CHECKS: tuple[tuple[str, str, str], ...] = (
    ("banking_accounts", "balance_bounds", f"balance_minor BETWEEN -{_BALANCE} AND {_BALANCE}"),
    ("banking_accounts", "held_bounds", f"held_minor <= {2 * _BALANCE}"),
    ("banking_accounts", "floor_bounds", f"floor_minor >= -{_BALANCE}"),
    ("banking_postings", "amount_bounds", f"amount_minor BETWEEN -{_AMOUNT} AND {_AMOUNT}"),
    (
        "banking_postings",
        "balance_after_bounds",
        f"balance_after_minor BETWEEN -{_BALANCE} AND {_BALANCE}",
    ),
    ("banking_holds", "amount_bounds", f"amount_minor <= {_AMOUNT}"),
)

# SQLite: which integer columns each table's triggers check, and on which statements.
_SQLITE_COLUMNS: dict[str, tuple[str, ...]] = {
    "banking_accounts": ("balance_minor", "held_minor", "floor_minor"),
    "banking_postings": ("amount_minor", "balance_after_minor"),
    "banking_holds": ("amount_minor",),
}


def _sqlite_condition(table: str) -> str:
    typed = [f"typeof(NEW.{c}) = 'integer'" for c in _SQLITE_COLUMNS[table]]
    ranges = [condition for t, _, condition in _CHECKS if t == table]
    for column in _SQLITE_COLUMNS[table]:  # no column name contains another
        ranges = [r.replace(column, f"NEW.{column}") for r in ranges]
    return " AND ".join(typed + [f"({r})" for r in ranges])


def _sqlite_triggers(table: str) -> list[str]:
    condition = _sqlite_condition(table)
    message = f"{table}: amount out of bounds or not an integer"
    columns = ", ".join(_SQLITE_COLUMNS[table])
    return [
        f"""CREATE TRIGGER {table}_bounds_insert BEFORE INSERT ON {table}
        WHEN NOT ({condition}) BEGIN SELECT RAISE(ABORT, '{message}'); END""",
        f"""CREATE TRIGGER {table}_bounds_update BEFORE UPDATE OF {columns} ON {table}
        WHEN NOT ({condition}) BEGIN SELECT RAISE(ABORT, '{message}'); END""",
    ]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, name, condition in _CHECKS:
            op.create_check_constraint(op.f(f"ck_{table}_{name}"), table, condition)
    else:
        for table in _SQLITE_COLUMNS:
            for statement in _sqlite_triggers(table):
                op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, name, _ in reversed(_CHECKS):
            op.drop_constraint(op.f(f"ck_{table}_{name}"), table, type_="check")
    else:
        for table in _SQLITE_COLUMNS:
            for when in ("insert", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_bounds_{when}")
