"""Payments over HTTP under ``/v1/payments``: FX quotes and conversions, merchants and payment
codes, merchant payments and refunds, P2P and request-money links.

Thin as the banking routes: parse, build ``Money``, call one ``platform.payments`` desk method
with the caller's principal (the service authorises), render. Money-moving calls need the
``Idempotency-Key`` header.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from finbridge.api.deps import PlatformDep, PrincipalDep
from finbridge.api.routes.banking import IdempotencyKey
from finbridge.api.schemas.payments import (
    CodeCreate,
    CodePreviewPublic,
    CodePublic,
    CodeScan,
    ConversionPublic,
    CrossBorderCreate,
    CrossBorderPublic,
    ExportedMessage,
    InboxReport,
    MerchantCreate,
    MerchantPublic,
    P2PCreate,
    PayCreate,
    PayeeLookup,
    PayeePublic,
    PaymentPublic,
    PositionPublic,
    QuoteCreate,
    QuoteExecute,
    QuotePublic,
    RateHistoryPublic,
    RatePublic,
    RefundCreate,
    RefundPublic,
    RequestCreate,
    RequestPay,
    RequestPublic,
    ScreeningDecision,
    TierSet,
    money,
    optional_money,
)
from finbridge.core.errors import NotFound, ValidationError
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.payments import Beneficiary, PaymentsService, qr_png

router = APIRouter(prefix="/payments", tags=["payments"])


def _service(platform: PlatformDep) -> PaymentsService:
    return platform.payments


Payments = Annotated[PaymentsService, Depends(_service)]


def _customer(actor: Principal, customer_id: str | None) -> str:
    chosen = customer_id or actor.customer_id
    if chosen is None:
        raise ValidationError("customer_id is required for operators", field="customer_id")
    return chosen


def _optional(
    amount: str | None, currency: str | None, default: str, field: str = "amount"
) -> Money | None:
    return None if amount is None else Money.of(amount, currency or default, field=field)


# ---------------------------------------------------------------------------- FX
@router.get("/fx/rates", response_model=RateHistoryPublic)
def fx_rates(
    actor: PrincipalDep,
    payments: Payments,
    base: Annotated[str, Query(pattern=r"^[A-Z]{3}$")] = "USD",
    quote: Annotated[str, Query(pattern=r"^[A-Z]{3}$")] = "CNY",
    days: Annotated[int, Query(ge=1, le=3660)] = 90,
) -> RateHistoryPublic:
    payments.fx.reference(base, quote)  # the pair must be one the wallets hold
    history = payments.fx.rate_history(base, quote, days)
    rates = [RatePublic(date=r.as_of, rate=str(r.rate)) for r in history]
    return RateHistoryPublic(base=base, quote=quote, rates=rates)


@router.post("/fx/quotes", status_code=status.HTTP_201_CREATED, response_model=QuotePublic)
def create_quote(body: QuoteCreate, actor: PrincipalDep, payments: Payments) -> QuotePublic:
    q = payments.fx.quote(
        actor, _customer(actor, body.customer_id),
        sell_currency=body.sell_currency, buy_currency=body.buy_currency,
        sell_amount=_optional(body.sell_amount, body.sell_currency, body.sell_currency,
                              "sell_amount"),
        buy_amount=_optional(body.buy_amount, body.buy_currency, body.buy_currency, "buy_amount"),
    )  # fmt: skip
    return QuotePublic.of(q)


@router.get("/fx/quotes/{quote_id}", response_model=QuotePublic)
def get_quote(quote_id: str, actor: PrincipalDep, payments: Payments) -> QuotePublic:
    return QuotePublic.of(payments.fx.get_quote(actor, quote_id))


@router.post("/fx/quotes/{quote_id}/execute", response_model=ConversionPublic)
def execute_quote(
    quote_id: str, body: QuoteExecute, actor: PrincipalDep, payments: Payments
) -> ConversionPublic:
    done = payments.fx.execute(
        actor, quote_id, from_account_id=body.from_account_id, to_account_id=body.to_account_id
    )
    return ConversionPublic(
        quote=QuotePublic.of(done.quote), entry_id=done.entry_id,
        from_account_id=done.from_account_id, to_account_id=done.to_account_id,
    )  # fmt: skip


@router.get("/fx/positions", response_model=list[PositionPublic])
def fx_positions(actor: PrincipalDep, payments: Payments) -> list[PositionPublic]:
    return [
        PositionPublic(currency=p.currency, position=money(p.position),
                       cny_equivalent=optional_money(p.cny_equivalent))
        for p in payments.fx.positions(actor)
    ]  # fmt: skip


@router.post("/fx/tiers", status_code=status.HTTP_204_NO_CONTENT)
def set_tier(body: TierSet, actor: PrincipalDep, payments: Payments) -> Response:
    payments.fx.set_tier(actor, body.customer_id, body.tier)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------------------- merchants
@router.post("/merchants", status_code=status.HTTP_201_CREATED, response_model=MerchantPublic)
def onboard_merchant(
    body: MerchantCreate, actor: PrincipalDep, payments: Payments
) -> MerchantPublic:
    merchant = payments.merchants.onboard(
        actor, name=body.name, mcc=body.mcc, settlement_account_id=body.settlement_account_id,
        fee_rate=body.fee_rate,
    )  # fmt: skip
    return MerchantPublic.of(merchant)


@router.get("/merchants", response_model=list[MerchantPublic])
def list_merchants(
    actor: PrincipalDep, payments: Payments, limit: Annotated[int, Query(ge=1, le=200)] = 100
) -> list[MerchantPublic]:
    return [MerchantPublic.of(x) for x in payments.merchants.list(actor, limit=limit)]


@router.get("/merchants/{merchant_id}", response_model=MerchantPublic)
def get_merchant(merchant_id: str, actor: PrincipalDep, payments: Payments) -> MerchantPublic:
    return MerchantPublic.of(payments.merchants.get(actor, merchant_id))


@router.post(
    "/merchants/{merchant_id}/codes", status_code=status.HTTP_201_CREATED, response_model=CodePublic
)
def create_code(
    merchant_id: str, body: CodeCreate, actor: PrincipalDep, payments: Payments
) -> CodePublic:
    merchant = payments.merchants.get(actor, merchant_id)
    amount = _optional(body.amount, merchant.currency, merchant.currency)
    code = payments.merchants.create_code(
        actor, merchant_id, amount=amount, reference=body.reference
    )
    return CodePublic.of(code)


@router.get("/merchants/{merchant_id}/settlement", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})  # fmt: skip
def merchant_settlement(
    merchant_id: str, day: date, actor: PrincipalDep, payments: Payments
) -> Response:
    """The merchant's settlement file for a business day (CSV); ``X-Reconciled`` says whether
    every line's ledger entry moved exactly its net amount on the settlement account."""
    report = payments.settlement.daily(actor, merchant_id, day)
    return Response(
        report.csv(), media_type="text/csv",
        headers={"X-Reconciled": "true" if report.reconciled else "false",
                 "X-Ledger-Total": str(report.ledger_total.amount)},
    )  # fmt: skip


@router.post("/codes/preview", response_model=CodePreviewPublic)
def preview_code(body: CodeScan, actor: PrincipalDep, payments: Payments) -> CodePreviewPublic:
    p = payments.merchants.preview(actor, body.code)
    return CodePreviewPublic(
        code_id=p.code_id, merchant_id=p.merchant_id, merchant_name=p.merchant_name,
        amount=optional_money(p.amount), currency=p.currency, expires_at=p.expires_at,
    )  # fmt: skip


@router.post("/qr", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def code_image(body: CodeScan, actor: PrincipalDep, payments: Payments) -> Response:
    """The QR image of a genuine, payable code (checked before it is drawn)."""
    payments.merchants.preview(actor, body.code)
    return Response(qr_png(body.code), media_type="image/png")


# ---------------------------------------------------------------------------- payments
@router.post("/pay", status_code=status.HTTP_201_CREATED, response_model=PaymentPublic)
def pay(
    body: PayCreate, actor: PrincipalDep, payments: Payments, key: IdempotencyKey
) -> PaymentPublic:
    amount = None
    if body.amount is not None:
        if body.currency is None:
            raise ValidationError("currency is required with an amount", field="currency")
        amount = Money.of(body.amount, body.currency)
    payment = payments.payments.pay(
        actor, body.code, from_account_id=body.from_account_id, idempotency_key=key, amount=amount
    )
    return PaymentPublic.of(payment)


@router.post("/p2p", status_code=status.HTTP_201_CREATED, response_model=PaymentPublic)
def send_p2p(
    body: P2PCreate, actor: PrincipalDep, payments: Payments, key: IdempotencyKey
) -> PaymentPublic:
    payment = payments.payments.send(
        actor, from_account_id=body.from_account_id, to_account_id=body.to_account_id,
        phone=body.phone, amount=Money.of(body.amount, body.currency), idempotency_key=key,
        note=body.note,
    )  # fmt: skip
    return PaymentPublic.of(payment)


@router.post("/payees/lookup", response_model=PayeePublic)
def find_payee(body: PayeeLookup, actor: PrincipalDep, payments: Payments) -> PayeePublic:
    p = payments.payments.find_payee(
        actor, phone=body.phone, account_id=body.account_id, currency_code=body.currency
    )
    return PayeePublic(customer_id=p.customer_id, account_id=p.account_id,
                       masked_name=p.masked_name, currency=p.currency)  # fmt: skip


@router.post("/requests", status_code=status.HTTP_201_CREATED, response_model=RequestPublic)
def request_money(body: RequestCreate, actor: PrincipalDep, payments: Payments) -> RequestPublic:
    r = payments.payments.request_money(
        actor, to_account_id=body.to_account_id, amount=Money.of(body.amount, body.currency),
        note=body.note,
    )  # fmt: skip
    return RequestPublic.of(r)


@router.get("/requests/{request_id}", response_model=RequestPublic)
def get_request(request_id: str, actor: PrincipalDep, payments: Payments) -> RequestPublic:
    return RequestPublic.of(payments.payments.get_request(actor, request_id))


@router.post(
    "/requests/{request_id}/pay", status_code=status.HTTP_201_CREATED, response_model=PaymentPublic
)
def pay_request(
    request_id: str, body: RequestPay, actor: PrincipalDep, payments: Payments,
    key: IdempotencyKey,
) -> PaymentPublic:  # fmt: skip
    payment = payments.payments.pay_request(
        actor, request_id, from_account_id=body.from_account_id, idempotency_key=key
    )
    return PaymentPublic.of(payment)


# ---------------------------------------------------------------------------- cross-border
@router.post("/crossborder", status_code=status.HTTP_201_CREATED, response_model=CrossBorderPublic)
def send_crossborder(
    body: CrossBorderCreate, actor: PrincipalDep, payments: Payments, key: IdempotencyKey
) -> CrossBorderPublic:
    b = body.beneficiary
    beneficiary = Beneficiary(
        name=b.name, country=b.country, bic=b.bic, iban=b.iban, account=b.account,
        address_lines=tuple(b.address_lines),
    )  # fmt: skip
    sent = payments.crossborder.send(
        actor, from_account_id=body.from_account_id, amount=Money.of(body.amount, body.currency),
        beneficiary=beneficiary, idempotency_key=key, purpose=body.purpose,
        remittance=body.remittance, quote_id=body.quote_id,
    )  # fmt: skip
    return CrossBorderPublic.of(sent)


@router.get("/crossborder", response_model=list[CrossBorderPublic])
def crossborder_queue(
    actor: PrincipalDep,
    payments: Payments,
    status_filter: Annotated[str | None, Query(alias="status", max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> list[CrossBorderPublic]:
    found = payments.crossborder.queue(actor, status=status_filter, limit=limit)
    return [CrossBorderPublic.of(t) for t in found]


@router.post("/crossborder/export", response_model=list[ExportedMessage])
def export_pacs008(actor: PrincipalDep, payments: Payments) -> list[ExportedMessage]:
    """Every ready transfer in pacs.008 messages (one per currency), each XSD-valid."""
    return [
        ExportedMessage(message_id=mid, xml=xml.decode("utf-8"))
        for mid, xml in payments.crossborder.export_pacs008(actor)
    ]


@router.post(
    "/crossborder/inbox",
    response_model=InboxReport,
    openapi_extra={"requestBody": {"content": {"application/xml": {}}, "required": True}},
)
async def crossborder_inbox(
    request: Request, actor: PrincipalDep, payments: Payments
) -> InboxReport:
    """A correspondent's pacs.002 or pacs.004 (raw XML body), applied to the ledger."""
    data = await request.body()
    report = await run_in_threadpool(payments.crossborder.receive, actor, data)
    return InboxReport(
        message=report.message, settled=report.settled, rejected=report.rejected,
        returned=report.returned, unchanged=report.unchanged,
    )  # fmt: skip


@router.get("/crossborder/{transfer_id}", response_model=CrossBorderPublic)
def get_crossborder(transfer_id: str, actor: PrincipalDep, payments: Payments) -> CrossBorderPublic:
    return CrossBorderPublic.of(payments.crossborder.get(actor, transfer_id))


@router.get("/crossborder/{transfer_id}/message", response_class=Response)
def crossborder_message(transfer_id: str, actor: PrincipalDep, payments: Payments) -> Response:
    xml = payments.crossborder.message(actor, transfer_id)
    if xml is None:
        raise NotFound("the transfer has not been sent yet", field="transfer_id")
    return Response(xml, media_type="application/xml")


@router.post("/crossborder/{transfer_id}/screening", response_model=CrossBorderPublic)
def decide_screening(
    transfer_id: str, body: ScreeningDecision, actor: PrincipalDep, payments: Payments
) -> CrossBorderPublic:
    decided = payments.crossborder.decide_screening(
        actor, transfer_id, release=body.release, note=body.note
    )
    return CrossBorderPublic.of(decided)


@router.get("", response_model=list[PaymentPublic])
def search_payments(
    actor: PrincipalDep,
    payments: Payments,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    merchant_id: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[str | None, Query(pattern=r"^(merchant|p2p)$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[PaymentPublic]:
    found = payments.payments.search(
        actor, customer_id=customer_id, merchant_id=merchant_id, kind=kind, limit=limit
    )
    return [PaymentPublic.of(p) for p in found]


@router.get("/{payment_id}", response_model=PaymentPublic)
def get_payment(payment_id: str, actor: PrincipalDep, payments: Payments) -> PaymentPublic:
    return PaymentPublic.of(payments.payments.get(actor, payment_id))


@router.post(
    "/{payment_id}/refunds", status_code=status.HTTP_201_CREATED, response_model=RefundPublic
)
def refund(
    payment_id: str, body: RefundCreate, actor: PrincipalDep, payments: Payments,
    key: IdempotencyKey,
) -> RefundPublic:  # fmt: skip
    amount = None
    if body.amount is not None:
        paid = payments.payments.get(actor, payment_id) if body.currency is None else None
        amount = Money.of(body.amount, body.currency or (paid.amount.code if paid else "CNY"))
    return RefundPublic.of(
        payments.payments.refund(actor, payment_id, idempotency_key=key, amount=amount)
    )


@router.get("/{payment_id}/refunds", response_model=list[RefundPublic])
def list_refunds(payment_id: str, actor: PrincipalDep, payments: Payments) -> list[RefundPublic]:
    return [RefundPublic.of(r) for r in payments.payments.refunds(actor, payment_id)]
