"""One ready customer for the app (``/app``): the demo prints its login so a newcomer can open
the app at once.

The customer (and a payee to send money to) is registered through identity's face like any
self-registration, gets TOTP set up, CNY and USD accounts opened by the bank, a salary, a few
payments, a welcome message and a marketing consent. The password and TOTP secret are made at
random on the first run and kept in ``<data_dir>/demo-app-login.json`` (owner-only), which is
what a second run prints again; a development aid, like the admin key the demo prints.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from finbridge.core.errors import FinbridgeError
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.identity import RegistrationRequest
from finbridge.platform import Platform

_ACTOR = Principal.system("demo")
_log = logging.getLogger(__name__)
LOGIN_FILE = "demo-app-login.json"
CUSTOMER = RegistrationRequest(
    name="林晓梅", id_type="prc_resident_id", id_number="110101198805120311", phone="13900001234"
)
PAYEE = RegistrationRequest(
    name="陈建国", id_type="prc_resident_id", id_number="110105199208140621", phone="13900005678"
)
PAYMENTS = (
    ("120.00", "超市购物"),
    ("38.50", "午餐"),
    ("260.00", "水电燃气"),
    ("66.00", "话费充值"),
)


@dataclass(frozen=True, slots=True)
class AppLogin:
    customer_id: str
    phone: str
    password: str
    totp_secret: str


def _read(path: Path) -> AppLogin | None:
    try:
        return AppLogin(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write(path: Path, login: AppLogin) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fp:
        json.dump(asdict(login), fp)


def seed_app_customer(platform: Platform) -> AppLogin | None:
    """The demo customer's login; None when it exists but its login file is gone."""
    path = platform.settings.data_dir / LOGIN_FILE
    ids = platform.identity
    existing = ids.persons.find_by_phone(CUSTOMER.phone)
    if existing is not None:
        login = _read(path)
        return login if login is not None and login.customer_id == existing else None
    import pyotp

    password = "fb-" + secrets.token_urlsafe(12)
    customer_id = ids.persons.register(CUSTOMER, password=password).customer_id
    me = Principal.customer(customer_id)
    setup = ids.totp.begin_setup(me, customer_id)
    ids.totp.confirm_setup(me, customer_id, pyotp.TOTP(setup.secret).at(platform.clock.now()))
    payee = ids.persons.find_by_phone(PAYEE.phone) or ids.persons.register(PAYEE).customer_id
    bank = platform.banking
    current = bank.open_account(_ACTOR, customer_id, kind="current", currency_code="CNY").id
    bank.open_account(_ACTOR, customer_id, kind="savings", currency_code="CNY")
    usd = bank.open_account(_ACTOR, customer_id, kind="current", currency_code="USD").id
    payee_account = bank.open_account(_ACTOR, payee, kind="current", currency_code="CNY").id
    salary, savings = Money.of("18500.00", "CNY"), Money.of("420.00", "USD")
    key = f"demo-app-{customer_id}"
    bank.deposit(_ACTOR, current, salary, idempotency_key=f"{key}-salary", description="工资")
    bank.deposit(_ACTOR, usd, savings, idempotency_key=f"{key}-usd", description="外币存款")
    for i, (amount, description) in enumerate(PAYMENTS):
        try:
            bank.transfer(
                _ACTOR, current, payee_account, Money.of(amount, "CNY"),
                idempotency_key=f"{key}-pay-{i}", description=description,
            )  # fmt: skip
        except FinbridgeError as exc:  # the risk engine may refuse one; the login still works
            _log.warning("demo payment %s not posted: %s", description, exc)
    ids.inbox.deliver(
        _ACTOR,
        customer_id,
        kind="welcome",
        title="欢迎使用汇桥金融",
        body="您的账户已开通。可在“安全”中管理登录设备，在“隐私”中查看授权和下载您的数据。",
        link="/app/security",
        ref="welcome",
    )
    ids.consents.grant(me, customer_id, "marketing", ["contact", "transactions"])
    login = AppLogin(customer_id, CUSTOMER.phone, password, setup.secret)
    _write(path, login)
    return login
