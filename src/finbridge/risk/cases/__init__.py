"""Review cases: the queue analysts work, notes, and the verdict that becomes a training label."""

from finbridge.risk.cases._cases import RESOLUTIONS, Case, CaseNote, CaseResolver, CaseService

__all__ = ["RESOLUTIONS", "Case", "CaseNote", "CaseResolver", "CaseService"]
