"""Factor expressions, the Alpha158 set and cross-sectional processors."""

from finbridge.quant.factors._engine import (
    FactorEngine,
    check_point_in_time,
    compute_label,
    fingerprint,
    max_lookback,
)
from finbridge.quant.factors._expr import (
    ExpressionError,
    LookAheadError,
    compile_expression,
    lookahead,
    lookback,
    parse,
)
from finbridge.quant.factors.alpha158 import ALPHA158, ALPHA158_LABEL
from finbridge.quant.factors.processors import (
    CSRankNorm,
    CSZScore,
    FillNa,
    ProcessorChain,
    Winsorize,
    ZScore,
)

__all__ = [
    "ALPHA158",
    "ALPHA158_LABEL",
    "CSRankNorm",
    "CSZScore",
    "ExpressionError",
    "FactorEngine",
    "FillNa",
    "LookAheadError",
    "ProcessorChain",
    "Winsorize",
    "ZScore",
    "check_point_in_time",
    "compile_expression",
    "compute_label",
    "fingerprint",
    "lookahead",
    "lookback",
    "max_lookback",
    "parse",
]
