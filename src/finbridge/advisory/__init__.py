"""Robo-advice: risk profiling (C1-C5), product levels (R1-R5), suitability, portfolios, goals,
orders, holdings and rebalancing (issue 16). The face is filled as the engine is built."""

__all__: list[str] = []
