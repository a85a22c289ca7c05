"""Console: credit models with metrics, their reports, and a score lookup with reasons."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from finbridge.core.errors import FinbridgeError, ValidationError
from finbridge.credit import GERMAN_TARGET, german
from finbridge.platform import Platform
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console/credit", include_in_schema=False)
NAV = ("Credit", "/console/credit")
NAV_ORDER = 40
DEMO_MODEL = "german-demo"
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _example() -> str:

    row = german().drop(columns=[GERMAN_TARGET]).iloc[1].to_dict()
    return json.dumps({k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()},
                      indent=1)  # fmt: skip


def _models(platform: Platform, actor: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": v.model_name,
            "version": v.version,
            "kind": v.kind,
            "status": v.status,
            "auc": f"{v.metrics['auc']:.4f}" if "auc" in v.metrics else "-",
            "ks": f"{v.metrics['ks']:.4f}" if "ks" in v.metrics else "-",
            "gini": f"{v.metrics['gini']:.4f}" if "gini" in v.metrics else "-",
            "n_train": v.n_train,
            "trained_by": v.trained_by,
            "created_at": v.created_at,
            "warnings": list(v.metrics.get("warnings") or []),
            "n_holdout": int(v.metrics["n_holdout"]) if "n_holdout" in v.metrics else None,
        }
        for v in platform.credit.list_versions(actor)
    ]


@router.get("", response_class=HTMLResponse)
def index(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    models = _models(platform, actor)
    live = sorted({m["name"] for m in models if m["status"] == "live"})
    return render(
        request, "credit/index.html",
        {"models": models, "live": live, "example": _example(), "demo": DEMO_MODEL},
    )  # fmt: skip


@router.post("/demo", response_class=HTMLResponse)
def demo(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    """Train a scorecard on the shipped German credit data and make it live."""
    platform.credit.train(actor, german(), target=GERMAN_TARGET, name=DEMO_MODEL, promote=True)
    return render(request, "credit/_models.html", {"models": _models(platform, actor)})


@router.get("/models/{name}/report", response_class=HTMLResponse)
def report(
    name: str, actor: ConsolePrincipalDep, platform: ConsolePlatformDep, version: int | None = None
) -> Response:
    page = platform.credit.report_html(actor, name, version)
    return HTMLResponse(page, headers={"Content-Security-Policy": REPORT_CSP})


@router.post("/score", response_class=HTMLResponse)
def score(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    model: str = Form(...),
    customer_id: str = Form(...),
    applicant: str = Form(...),
) -> Response:
    try:
        row = json.loads(applicant)
        if not isinstance(row, dict):
            raise ValidationError("the applicant must be a JSON object", field="applicant")
        decision = asdict(platform.credit.score(actor, model, row, customer_id=customer_id))
        error = None
    except json.JSONDecodeError as exc:
        decision, error = None, f"applicant: not valid JSON ({exc.msg})"
    except FinbridgeError as exc:
        decision, error = None, str(exc)
    return render(request, "credit/_score.html", {"decision": decision, "error": error})
