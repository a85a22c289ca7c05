"""The customer app pays a person by mobile number and requests money with a link (issue 15):
the payee's masked name is shown before confirming, a double submit pays once, the guard's
step-up is answered with a TOTP code and a decline shows its reasons; a request link is shared
(link and QR), paid once by someone else, and refused once it has expired."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.app.conftest import LI, SYSTEM, ZHANG, csrf_of, make_customer, scripted_platform, sign_in

from finbridge.core import ManualClock, Money, Settings
from finbridge.site import create_app


def _field(html: str, name: str) -> str:
    return html.split(f'name="{name}" value="')[1].split('"')[0]


def _balance(platform, account_id: str) -> Money:  # type: ignore[no-untyped-def]
    return platform.banking.balance(SYSTEM, account_id).balance


def _cny(platform, who) -> Money:  # type: ignore[no-untyped-def]
    """What a customer holds in CNY (a payee is paid into their first CNY account)."""
    return _balance(platform, who.current) + _balance(platform, who.savings)


def test_pay_a_person_by_mobile_number(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = scripted_platform(settings, sqlite_engine, clock)  # 500+ step-up, 900+ declined
    client = TestClient(create_app(platform=platform))
    zhang = make_customer(platform, clock, ZHANG)
    li = make_customer(platform, clock, LI, funds="0")
    sign_in(client, clock, zhang)

    index = client.get("/app/pay")
    assert 'href="/app/pay/person"' in index.text and 'href="/app/pay/requests"' in index.text
    page = client.get("/app/pay/person")
    assert page.status_code == 200 and 'id="phone"' in page.text
    form = {"phone": "13700000000", "amount": "20.00", "source": zhang.current, "note": "午饭",
            "csrf_token": csrf_of(page.text)}  # fmt: skip
    nobody = client.post("/app/pay/person/preview", data=form)
    assert nobody.status_code == 404 and 'id="phone" name="phone"' in nobody.text
    assert 'aria-invalid="true"' in nobody.text.split('id="phone"')[1].split(">")[0]

    seen = client.post("/app/pay/person/preview", data={**form, "phone": LI.phone})
    assert seen.status_code == 200, seen.text
    assert (
        "李**" in seen.text and "李小龙" not in seen.text
    )  # the masked name only (identity's mask)
    assert _cny(platform, li) == Money.zero("CNY")  # nothing moved yet
    confirm = {**form, "phone": LI.phone, "key": _field(seen.text, "key"),
               "csrf_token": csrf_of(seen.text)}  # fmt: skip
    done = client.post("/app/pay/person", data=confirm)
    assert done.status_code == 200 and "付款成功" in done.text and "李**" in done.text
    assert client.post("/app/pay/person", data=confirm).status_code == 200  # double submit
    assert _cny(platform, li) == Money.of("20.00", "CNY")
    assert _balance(platform, zhang.current) == Money.of("980.00", "CNY")
    recent = client.get("/app/pay").text.split('id="recent-h"')[1]
    assert "午饭" in recent and "-¥20.00" in recent  # the Pay page lists it, money out

    # 600: the guard asks for the second factor; the same key is sent again after the code.
    clock.advance(timedelta(minutes=6))
    seen = client.post("/app/pay/person/preview", data={**form, "phone": LI.phone,
                                                          "amount": "600"})  # fmt: skip
    big = {**form, "phone": LI.phone, "amount": "600", "key": _field(seen.text, "key"),
           "csrf_token": csrf_of(seen.text)}  # fmt: skip
    asked = client.post("/app/pay/person", data=big)
    assert asked.status_code == 403 and "动态码" in asked.text and 'id="totp"' in asked.text
    wrong = client.post("/app/pay/person/confirm", data={**big, "totp": "000000"})
    assert wrong.status_code == 401
    assert _cny(platform, li) == Money.of("20.00", "CNY")
    ok = client.post("/app/pay/person/confirm",
                     data={**big, "totp": zhang.totp.at(clock.now())})  # fmt: skip
    assert ok.status_code == 200 and "付款成功" in ok.text, ok.text
    assert _cny(platform, li) == Money.of("620.00", "CNY")

    # 950: declined, with the reason in words; nothing moves.
    seen = client.post("/app/pay/person/preview", data={**form, "phone": LI.phone,
                                                          "amount": "350"})  # fmt: skip
    assert seen.status_code == 200
    no = client.post("/app/pay/person/preview", data={**form, "phone": LI.phone,
                                                       "amount": "950"})  # fmt: skip
    declined = client.post("/app/pay/person", data={
        **form, "phone": LI.phone, "amount": "950", "key": _field(no.text, "key"),
        "csrf_token": csrf_of(no.text)})  # fmt: skip
    assert declined.status_code == 422 and "风控" in declined.text
    assert "amount far above" in declined.text
    assert _cny(platform, li) == Money.of("620.00", "CNY")
    platform.close()


def test_request_money_with_a_link(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = scripted_platform(settings, sqlite_engine, clock)
    app = create_app(platform=platform)
    zhang_client, li_client = TestClient(app), TestClient(app)
    zhang = make_customer(platform, clock, ZHANG)
    li = make_customer(platform, clock, LI, funds="100.00")
    sign_in(zhang_client, clock, zhang)
    sign_in(li_client, clock, li)

    page = zhang_client.get("/app/pay/requests")
    assert page.status_code == 200 and "还没有收款请求" in page.text
    bad = zhang_client.post("/app/pay/requests", data={
        "amount": "1.234", "account": zhang.savings, "note": "",
        "csrf_token": csrf_of(page.text)})  # fmt: skip
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    made = zhang_client.post("/app/pay/requests", data={
        "amount": "88.00", "account": zhang.savings, "note": "电影票",
        "csrf_token": csrf_of(page.text)}, follow_redirects=False)  # fmt: skip
    assert made.status_code == 303
    link = made.headers["location"]
    mine = zhang_client.get(link)
    assert (
        mine.status_code == 200 and "分享此链接" in mine.text and "data:image/svg+xml" in mine.text
    )
    assert f"http://testserver{link}" in mine.text and "待支付" in mine.text
    assert "电影票" in zhang_client.get("/app/pay/requests").text

    # Li opens the link: Zhang's masked name and the amount, then pays from her own account.
    seen = li_client.get(link)
    assert seen.status_code == 200 and "张**" in seen.text and "张三丰" not in seen.text
    assert "分享此链接" not in seen.text
    form = {"source": li.current, "key": _field(seen.text, "key"), "csrf_token": csrf_of(seen.text)}
    paid = li_client.post(link, data=form)
    assert paid.status_code == 200 and "付款成功" in paid.text, paid.text
    assert li_client.post(link, data=form).status_code == 200  # the same key: paid once
    assert _balance(platform, zhang.savings) == Money.of("88.00", "CNY")
    assert _balance(platform, li.current) == Money.of("12.00", "CNY")
    assert "付款成功" in zhang_client.get(link).text  # the requester sees it paid
    again = li_client.post(link, data={**form, "key": "another-key"})
    assert again.status_code == 409
    # Paying from an account that is not hers is a 404, and moves nothing.
    other = zhang_client.post("/app/pay/requests", data={
        "amount": "5.00", "account": zhang.current, "note": "",
        "csrf_token": csrf_of(page.text)}, follow_redirects=False).headers["location"]  # fmt: skip
    stolen = li_client.post(other, data={**form, "source": zhang.current, "key": "k-stolen"})
    assert stolen.status_code == 404
    assert _balance(platform, zhang.current) == Money.of("1000.00", "CNY")

    # A day later the open link has expired: it says so, offers no form, and paying is refused.
    clock.advance(timedelta(seconds=settings.payments.request_seconds + 1))
    sign_in(li_client, clock, li)  # her session has ended by then too
    late = li_client.get(other)
    assert late.status_code == 200 and "已过期" in late.text and 'name="source"' not in late.text
    refused = li_client.post(other, data={**form, "key": "k-late",
                                          "csrf_token": csrf_of(late.text)})  # fmt: skip
    assert refused.status_code == 422 and "expired" in refused.text
    assert _balance(platform, zhang.current) == Money.of("1000.00", "CNY")
    assert (
        li_client.get("/app/pay/requests/01900000-0000-7000-8000-000000000000").status_code == 404
    )
    platform.close()
