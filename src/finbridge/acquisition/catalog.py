"""Products acquisition may offer, and the interest topics read from news headlines.

The catalogue is data, not a database table yet: six products with a risk level (R1..R5, the
suitability scale), a kind (``credit`` offers need a credit decision), a value to the bank per
conversion (in CNY, for ranking only) and a prior uplift used until a campaign for the product
has measured its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from finbridge.core.errors import NotFound


@dataclass(frozen=True)
class Product:
    code: str
    name_en: str
    name_zh: str
    kind: str  # deposit | fund | credit
    risk_level: int
    value: Decimal
    prior_uplift: float
    topic: str


PRODUCTS: tuple[Product, ...] = (
    Product(
        "deposit_3m",
        "3-month time deposit",
        "三个月定期存款",
        "deposit",
        1,
        Decimal("20"),
        0.010,
        "rates",
    ),
    Product(
        "money_market",
        "Money-market fund",
        "货币市场基金",
        "fund",
        1,
        Decimal("30"),
        0.012,
        "funds",
    ),
    Product("bond_fund", "Bond fund", "债券基金", "fund", 2, Decimal("60"), 0.008, "rates"),
    Product(
        "balanced_fund", "Balanced fund", "平衡型基金", "fund", 3, Decimal("90"), 0.007, "funds"
    ),
    Product(
        "equity_fund",
        "Equity index fund",
        "股票指数基金",
        "fund",
        4,
        Decimal("120"),
        0.006,
        "stocks",
    ),
    Product(
        "credit_line",
        "Personal credit line",
        "个人信用额度",
        "credit",
        1,
        Decimal("150"),
        0.005,
        "banking",
    ),
)
_BY_CODE = {p.code: p for p in PRODUCTS}


def product(code: str, field: str = "offer_code") -> Product:
    try:
        return _BY_CODE[code]
    except KeyError:
        raise NotFound(f"no product {code!r}; known: {sorted(_BY_CODE)}", field=field) from None


# Topic -> keywords in Chinese finance headlines (substring match). A headline may carry several.
TOPICS: dict[str, tuple[str, ...]] = {
    "stocks": ("股", "沪指", "创业板", "上证", "深成指", "港股", "美股", "A股", "IPO"),
    "funds": ("基金", "理财", "ETF"),
    "rates": ("利率", "降息", "加息", "LPR", "央行", "国债", "债"),
    "fx": ("汇率", "人民币", "美元", "欧元", "外汇"),
    "gold": ("黄金", "金价"),
    "property": ("楼市", "房价", "房地产", "住房"),
    "banking": ("银行", "信贷", "贷款", "信用卡"),
    "tech": ("科技", "芯片", "5G", "互联网", "新能源"),
}


def topics_of(text: str) -> list[str]:
    return [name for name, words in TOPICS.items() if any(w in text for w in words)]
