"""Rules in a safe expression language, grouped in versioned rule sets with weights and bands.

Expressions use the ``rule-engine`` package (a maintained, sandboxed grammar: comparisons,
arithmetic, ``and``/``or``/``not``, string and regex operators, no attribute access or calls
into Python). Every symbol is resolved against the feature catalogue at compile time, so a rule
that names an unknown feature, does not parse, is not a yes/no question, or divides by zero for
a plausible input (all features zero: a brand-new customer) is refused before it can be saved.
At run time a rule that still fails to evaluate counts as not fired and is reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import rule_engine

from finbridge.core.errors import ValidationError
from finbridge.risk.rules._derived import DERIVED_NAMES
from finbridge.risk.rules._fast import Closure, Untranslatable, to_closure

OUTCOMES = ("approve", "review", "step_up", "decline")  # in increasing severity
EVENT_TYPES = (
    "login",
    "payment",
    "transfer",
    "withdrawal",
    "credit_application",
    "profile_change",
)

# Features every event carries besides the velocity windows (see engine.build_features).
BASE_NUMERIC = ("amount", "hour", "ml_score", *DERIVED_NAMES)
BASE_BOOLEAN = (
    "is_night",
    "is_weekend",
    "on_blocklist",
    "on_watchlist",
    "on_allowlist",
)
BASE_STRING = ("event_type", "channel", "country")


def _message(exc: rule_engine.errors.EngineError) -> str:
    # rule-engine computes in Decimal: x/0 raises DivisionByZero, 0/0 DivisionUndefined.
    cause = exc.__context__
    if isinstance(cause, ZeroDivisionError) or "Division" in repr(cause):
        return "division by zero"
    return str(exc) or exc.message


def severity(outcome: str) -> int:
    return OUTCOMES.index(outcome)


@dataclass(frozen=True, slots=True)
class RuleSpec:
    name: str
    expression: str
    weight: float
    reason: str
    event_types: tuple[str, ...] = ()  # empty: every event type
    action: str | None = None  # a hard outcome regardless of the score (e.g. "decline")

    def applies_to(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


@dataclass(frozen=True, slots=True)
class Band:
    """Scores at or above ``min_score`` get ``outcome`` (the highest matching band wins)."""

    min_score: float
    outcome: str


DEFAULT_BANDS = (Band(30, "review"), Band(60, "step_up"), Band(90, "decline"))


@dataclass(frozen=True, slots=True)
class RuleSetSpec:
    name: str
    rules: tuple[RuleSpec, ...]
    bands: tuple[Band, ...] = DEFAULT_BANDS
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "rules": [
                {
                    "name": r.name,
                    "expression": r.expression,
                    "weight": r.weight,
                    "reason": r.reason,
                    "event_types": list(r.event_types),
                    "action": r.action,
                }
                for r in self.rules
            ],
            "bands": [{"min_score": b.min_score, "outcome": b.outcome} for b in self.bands],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleSetSpec:
        try:
            rules = tuple(
                RuleSpec(
                    name=str(r["name"]),
                    expression=str(r["expression"]),
                    weight=float(r.get("weight", 0)),
                    reason=str(r.get("reason") or r["name"]),
                    event_types=tuple(r.get("event_types") or ()),
                    action=r.get("action") or None,
                )
                for r in data["rules"]
            )
            bands = tuple(
                Band(float(b["min_score"]), str(b["outcome"])) for b in data.get("bands") or ()
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError(f"malformed rule set: {exc}", field="rules") from None
        return cls(
            name=str(data.get("name") or ""),
            rules=rules,
            bands=bands or DEFAULT_BANDS,
            description=str(data.get("description") or ""),
        )


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class RuleHit:
    name: str
    weight: float
    reason: str
    action: str | None


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    outcome: str
    score: float
    fired: tuple[RuleHit, ...]
    errors: tuple[str, ...] = ()


@dataclass
class FeatureCatalog:
    """Names and types a rule may refer to."""

    numeric: set[str] = field(default_factory=set)
    boolean: set[str] = field(default_factory=set)
    string: set[str] = field(default_factory=set)

    @classmethod
    def standard(cls, velocity_features: Iterable[str]) -> FeatureCatalog:
        return cls(
            numeric=set(BASE_NUMERIC) | set(velocity_features),
            boolean=set(BASE_BOOLEAN),
            string=set(BASE_STRING),
        )

    def types(self) -> dict[str, Any]:
        t: dict[str, Any] = {n: rule_engine.DataType.FLOAT for n in self.numeric}
        t.update({n: rule_engine.DataType.BOOLEAN for n in self.boolean})
        t.update({n: rule_engine.DataType.STRING for n in self.string})
        return t

    def zero_context(self) -> dict[str, Any]:
        ctx: dict[str, Any] = {n: 0.0 for n in self.numeric}
        ctx.update({n: False for n in self.boolean})
        ctx.update({n: "" for n in self.string})
        return ctx

    def one_context(self) -> dict[str, Any]:
        ctx = self.zero_context()
        ctx.update({n: 1.0 for n in self.numeric})
        return ctx


def _context(catalog: FeatureCatalog) -> rule_engine.Context:
    return rule_engine.Context(
        type_resolver=rule_engine.type_resolver_from_dict(catalog.types()),
        default_value=None,
    )


def compile_expression(expression: str, catalog: FeatureCatalog, where: str) -> rule_engine.Rule:
    """Parse and type-check one expression; errors name the rule and say what is wrong."""
    if not expression.strip():
        raise ValidationError("expression is empty", field=where)
    try:
        rule = rule_engine.Rule(expression, context=_context(catalog))
    except rule_engine.errors.SymbolResolutionError as exc:
        raise ValidationError(
            f"refers to unknown feature {exc.symbol_name!r}", field=where
        ) from None
    except rule_engine.errors.RuleSyntaxError as exc:
        token = getattr(exc, "token", None)
        at = f" near {token.value!r}" if token is not None and token.value else ""
        raise ValidationError(f"does not parse: {exc.message}{at}", field=where) from None
    except rule_engine.errors.EngineError as exc:
        raise ValidationError(f"invalid expression: {exc.message}", field=where) from None
    result = rule.statement.expression.result_type
    if result is not rule_engine.DataType.BOOLEAN and result is not rule_engine.DataType.UNDEFINED:
        raise ValidationError(
            f"must be a yes/no condition, but yields {result.name.lower()}", field=where
        )
    return rule


def validate(spec: RuleSetSpec, catalog: FeatureCatalog) -> list[Problem]:
    """Every problem with a rule set, each naming its field; empty when it may be saved."""
    problems: list[Problem] = []
    if not spec.name.strip():
        problems.append(Problem("name", "rule set needs a name"))
    if not spec.rules:
        problems.append(Problem("rules", "rule set has no rules"))
    seen: set[str] = set()
    probes = (catalog.zero_context(), catalog.one_context())
    for i, r in enumerate(spec.rules):
        where = f"rules[{i}]"
        if not r.name.strip():
            problems.append(Problem(f"{where}.name", "rule needs a name"))
        elif r.name in seen:
            problems.append(Problem(f"{where}.name", f"duplicate rule name {r.name!r}"))
        seen.add(r.name)
        if not -100 <= r.weight <= 100:
            problems.append(Problem(f"{where}.weight", "weight must be between -100 and 100"))
        if r.action is not None and r.action not in OUTCOMES:
            problems.append(Problem(f"{where}.action", f"action must be one of {OUTCOMES}"))
        bad_types = [t for t in r.event_types if t not in EVENT_TYPES]
        if bad_types:
            problems.append(Problem(f"{where}.event_types", f"unknown event types {bad_types}"))
        try:
            compiled = compile_expression(r.expression, catalog, f"{where}.expression")
        except ValidationError as exc:
            problems.append(Problem(exc.field or where, exc.detail))
            continue
        for probe in probes:
            try:
                compiled.matches(probe)
            except rule_engine.errors.EvaluationError as exc:
                text = _message(exc)
                hint = (
                    "; guard the divisor, e.g. `customer_count_7d > 0 and ...`"
                    if "division" in text
                    else ""
                )
                problems.append(
                    Problem(
                        f"{where}.expression",
                        f"fails when every feature is {next(iter(probe.values()))!r}: {text}{hint}",
                    )
                )
                break
    last = -1.0
    for j, b in enumerate(sorted(spec.bands, key=lambda b: b.min_score)):
        if b.outcome not in OUTCOMES:
            problems.append(Problem(f"bands[{j}].outcome", f"outcome must be one of {OUTCOMES}"))
        if b.min_score <= last:
            problems.append(Problem(f"bands[{j}].min_score", "band thresholds must differ"))
        last = b.min_score
    return problems


def require_valid(spec: RuleSetSpec, catalog: FeatureCatalog) -> None:
    problems = validate(spec, catalog)
    if problems:
        first = problems[0]
        raise ValidationError(
            f"{first.message}" + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
            field=first.field,
            problems=[{"field": p.field, "message": p.message} for p in problems],
        )


class CompiledRuleSet:
    """A validated rule set ready to score feature maps quickly."""

    def __init__(
        self, spec: RuleSetSpec, catalog: FeatureCatalog, *, version: int = 0, set_id: str = ""
    ) -> None:
        require_valid(spec, catalog)
        self.spec = spec
        self.version = version
        self.set_id = set_id
        self._rules = [(r, compile_expression(r.expression, catalog, r.name)) for r in spec.rules]
        # The same rules as closures where they translate (None: the interpreter decides).
        self._fast = [_closure_of(compiled) for _, compiled in self._rules]
        self._bands = sorted(spec.bands, key=lambda b: b.min_score, reverse=True)
        self._defaults = catalog.zero_context()

    @property
    def label(self) -> str:
        return f"{self.spec.name}@v{self.version}"

    @property
    def zero_context(self) -> dict[str, Any]:
        """Every feature a rule may name, at its neutral value (a copy)."""
        return dict(self._defaults)

    def evaluate(self, event_type: str, features: Mapping[str, Any]) -> RuleOutcome:
        ctx = {**self._defaults, **features}
        fired: list[RuleHit] = []
        errors: list[str] = []
        for (spec, compiled), fast in zip(self._rules, self._fast, strict=True):
            if not spec.applies_to(event_type):
                continue
            try:
                hit = _fast_or_interpreted(fast, compiled, ctx)
            except rule_engine.errors.EngineError as exc:
                errors.append(f"rule {spec.name!r} could not be evaluated: {_message(exc)}")
                continue
            if hit:
                fired.append(RuleHit(spec.name, spec.weight, spec.reason, spec.action))
        score = float(max(0.0, min(100.0, sum(h.weight for h in fired))))
        outcome = "approve"
        for band in self._bands:
            if score >= band.min_score:
                outcome = band.outcome
                break
        for h in fired:
            if h.action and severity(h.action) > severity(outcome):
                outcome = h.action
        return RuleOutcome(outcome, score, tuple(fired), tuple(errors))


def _closure_of(compiled: rule_engine.Rule) -> Closure | None:
    try:
        return to_closure(compiled.statement.expression)
    except Untranslatable:
        return None


def _fast_or_interpreted(
    fast: Closure | None, compiled: rule_engine.Rule, ctx: Mapping[str, Any]
) -> bool:
    """The closure's verdict; the interpreter's when there is no closure or it failed (so a
    failure reads exactly as the interpreter words it)."""
    if fast is not None:
        try:
            return bool(fast(ctx))
        except Exception:  # noqa: S110 - the interpreter below decides and explains
            pass
    return bool(compiled.matches(ctx))


def default_rule_set() -> RuleSetSpec:
    """A starting rule set for a fresh installation (analysts replace it in the console)."""
    r = RuleSpec
    return RuleSetSpec(
        name="baseline",
        description="Starter rules: lists, velocity bursts, unusual amounts and the ML score.",
        rules=(
            r("blocklisted", "on_blocklist", 100, "an entity is on a block list", (), "decline"),
            r("watchlisted", "on_watchlist", 35, "an entity is on a watch list"),
            r("ml_high", "ml_score >= 0.8", 70, "the fraud model scores this very high"),
            r("ml_elevated", "ml_score >= 0.5 and ml_score < 0.8", 35, "the fraud model is wary"),
            r("burst_1m", "customer_count_1m > 5", 40, "more than 5 events in a minute"),
            r("burst_1h", "customer_count_1h > 30", 30, "more than 30 events in an hour"),
            r(
                "amount_spike",
                "customer_count_30d >= 5 and amount > 5 * customer_avg_30d",
                30,
                "amount is over 5x the customer's 30-day average",
                ("payment", "transfer", "withdrawal"),
            ),
            r(
                "device_shared",
                "device_distinct_customer_1d > 3",
                35,
                "device used by more than 3 customers today",
            ),
            r(
                "many_devices_large",
                "customer_distinct_device_1d > 2 and amount > 2000",
                45,
                "large amount from a customer using more than 2 devices today",
                ("payment", "transfer", "withdrawal"),
            ),
            r(
                "login_storm",
                "ip_count_1h > 50",
                40,
                "more than 50 events from one IP in an hour",
                ("login",),
            ),
        ),
    )


def outcome_of(results: Sequence[str]) -> str:
    """The most severe outcome among several (used when lists and rules both speak)."""
    return max(results, key=severity) if results else "approve"
