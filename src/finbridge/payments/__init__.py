"""Payments: merchants and P2P, multi-currency wallets, FX quotes, cross-border transfers in
ISO 20022 (issue 15). The face is filled as the engine is built."""

__all__: list[str] = []
