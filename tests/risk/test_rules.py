"""The rule language: validation before save, safe evaluation, bands and actions."""

from __future__ import annotations

import pytest

from finbridge.core.errors import ValidationError
from finbridge.risk.decisions import default_config
from finbridge.risk.rules import (
    Band,
    CompiledRuleSet,
    FeatureCatalog,
    RuleSetSpec,
    RuleSpec,
    default_rule_set,
    validate,
)

CATALOG = FeatureCatalog.standard(default_config().feature_names())


def spec(*rules: RuleSpec, bands: tuple[Band, ...] = (Band(30, "review"), Band(60, "decline"))):
    return RuleSetSpec("t", rules, bands)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("amount >", "does not parse"),
        ("amount > 10 and (", "does not parse"),
        ("customer_count_2d > 3", "unknown feature 'customer_count_2d'"),
        ("amount + 1", "must be a yes/no condition"),
        ("amount / customer_count_7d > 2", "division by zero"),
        ("amount > 'x'", "invalid expression"),
        ("", "expression is empty"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(expression: str, message: str) -> None:
    problems = validate(spec(RuleSpec("r", expression, 10, "why")), CATALOG)
    assert problems, expression
    assert problems[0].field == "rules[0].expression"
    assert message in problems[0].message


def test_guarded_division_is_accepted_and_evaluates() -> None:
    rs = CompiledRuleSet(
        spec(
            RuleSpec("ratio", "customer_count_7d > 0 and amount / customer_count_7d > 2", 40, "r")
        ),
        CATALOG,
    )
    assert rs.evaluate("payment", {"amount": 10.0, "customer_count_7d": 0.0}).fired == ()
    out = rs.evaluate("payment", {"amount": 10.0, "customer_count_7d": 2.0})
    assert [h.name for h in out.fired] == ["ratio"] and out.outcome == "review"


def test_runtime_evaluation_error_is_reported_not_raised() -> None:
    # Passes validation (the divisor is never 0 or 1 in probes), fails on a real value.
    rs = CompiledRuleSet(spec(RuleSpec("odd", "amount / (hour - 3) > 1", 50, "odd")), CATALOG)
    out = rs.evaluate("payment", {"amount": 5.0, "hour": 3.0})
    assert out.fired == () and out.outcome == "approve"
    assert "could not be evaluated" in out.errors[0]


def test_require_valid_names_first_problem_and_counts_the_rest() -> None:
    bad = spec(RuleSpec("a", "nope > 1", 10, "x"), RuleSpec("a", "amount >", 500, "y"))
    with pytest.raises(ValidationError, match=r"unknown feature 'nope' \(and 3 more\)") as err:
        CompiledRuleSet(bad, CATALOG)
    assert err.value.field == "rules[0].expression"
    fields = {p["field"] for p in err.value.extra["problems"]}
    assert {"rules[1].name", "rules[1].weight", "rules[1].expression"} <= fields


def test_bands_actions_and_event_type_scoping() -> None:
    rs = CompiledRuleSet(
        spec(
            RuleSpec("big", "amount > 1000", 35, "big amount", ("transfer",)),
            RuleSpec("night", "is_night", 10, "night"),
            RuleSpec("block", "on_blocklist", 0, "blocked", (), "decline"),
        ),
        CATALOG,
    )
    assert rs.evaluate("payment", {"amount": 5000.0}).outcome == "approve"
    t = rs.evaluate("transfer", {"amount": 5000.0, "is_night": True})
    assert t.score == 45 and t.outcome == "review"
    assert rs.evaluate("login", {"on_blocklist": True}).outcome == "decline"


def test_invalid_bands_and_unknown_event_types() -> None:
    problems = validate(
        spec(RuleSpec("r", "amount > 1", 10, "x", ("teleport",)), bands=(Band(10, "maybe"),)),
        CATALOG,
    )
    messages = {p.field: p.message for p in problems}
    assert "unknown event types" in messages["rules[0].event_types"]
    assert "outcome must be one of" in messages["bands[0].outcome"]


def test_default_rule_set_is_valid_and_round_trips_json() -> None:
    base = default_rule_set()
    assert validate(base, CATALOG) == []
    assert RuleSetSpec.from_json(base.to_json()) == base
    with pytest.raises(ValidationError, match="malformed rule set"):
        RuleSetSpec.from_json({"name": "x", "rules": [{"expression": "amount > 1"}]})


PARITY_RULES = (
    "amount > 500 and not is_night",
    "customer_count_1h >= 3 or customer_distinct_device_1d > 2",
    "customer_count_7d > 0 and amount / customer_count_7d > 2.5",
    "-amount < -100 and country != 'CN'",
    "event_type == 'transfer' and (amount * 2 - 10) >= 390",
    "on_blocklist or (on_watchlist and ml_score > 0.5)",
)


def test_closures_decide_exactly_as_the_interpreter() -> None:
    """The compiled closures are a faster path, never a different answer (or error)."""
    import random

    rng = random.Random(11)
    rules = [RuleSpec(f"r{i}", e, 10, "why") for i, e in enumerate(PARITY_RULES)]
    both = [
        CompiledRuleSet(spec(*rules), CATALOG),
        CompiledRuleSet(default_rule_set(), CATALOG),
    ]
    interpreted = []
    for rs in both:
        assert all(f is not None for f in rs._fast)  # every rule here translates
        slow = CompiledRuleSet(rs.spec, CATALOG)
        slow._fast = [None] * len(slow._fast)  # the interpreter only
        interpreted.append(slow)
    for _ in range(2000):
        features = {
            "amount": rng.choice([0.0, 1.0, 99.5, 200.0, 250.0, 500.0, 501.0, 9999.0]),
            "customer_count_1h": rng.randint(0, 4),
            "customer_count_7d": rng.choice([0, 0, 1, 3, 40]),
            "customer_distinct_device_1d": rng.randint(0, 4),
            "ml_score": rng.random(),
            "country": rng.choice(["CN", "US", ""]),
            "event_type": rng.choice(["payment", "transfer"]),
            "is_night": rng.random() < 0.3,
            "on_blocklist": rng.random() < 0.1,
            "on_watchlist": rng.random() < 0.3,
        }
        for rs, slow in zip(both, interpreted, strict=True):
            fast_result = rs.evaluate(features["event_type"], features)
            assert fast_result == slow.evaluate(features["event_type"], features), features
