"""PostgreSQL: a posting connection the server dropped is replaced; the posting runs again."""

from __future__ import annotations

from sqlalchemy import Engine, text

from finbridge.banking import BankingService
from finbridge.core import ManualClock, Money, Principal
from finbridge.store import make_engine


def _posting_pids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid()"
            )
        )
        return [int(r[0]) for r in rows]


def test_a_transfer_on_a_dropped_posting_connection_posts_once(
    pg_engine: Engine, clock: ManualClock
) -> None:
    svc = BankingService(pg_engine, clock)
    system = Principal.system("test")
    cust = svc.create_customer(system, kind="personal", display_name="A").id
    a = svc.open_account(system, cust, kind="current", currency_code="CNY").id
    b = svc.open_account(system, cust, kind="current", currency_code="CNY").id
    svc.deposit(system, a, Money.of("10", "CNY"), idempotency_key="fund")
    # Every other session of this database is the idle posting connection (and the pool's):
    # end them from another database's session, as a server restart would.
    pids = _posting_pids(pg_engine)
    assert pids, "the deposit left a posting connection open"
    admin = make_engine(pg_engine.url.set(database="postgres").render_as_string(False))
    with admin.begin() as conn:
        for pid in pids:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    svc.transfer(system, a, b, Money.of("3", "CNY"), idempotency_key="t1")
    assert svc.get_account(system, b).balance == Money.of("3", "CNY")
    assert svc.get_account(system, a).balance == Money.of("7", "CNY")
