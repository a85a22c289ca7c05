"""Another serving process for the model-pointer tests: its own decision maker and risk service
over the same database and model registry, driven one JSON line at a time.

    python serving_process.py DATABASE_URL DATA_DIR

Commands on stdin (one JSON object per line), answers on stdout (one JSON object per line):
``{"decide": {...request...}, "now": ISO}`` -> ``{"live": version, "shadow": version|null}``;
``{"rollback": true, "now": ISO}`` -> ``{"rolled_back_to": version|null}`` or ``{"error": text}``.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

from finbridge.core import ManualClock, Principal, Role
from finbridge.core.errors import FinbridgeError
from finbridge.core.settings import RiskSettings
from finbridge.risk import RiskService
from finbridge.risk.decisions import DecisionMaker, DecisionOptions, InProcessVelocity
from finbridge.risk.decisions._velocity import default_config
from finbridge.risk.models import RegistryChampion, registry_dir
from finbridge.risk.store import SqlDecisionStore
from finbridge.store.engine import make_engine


def main(url: str, data_dir: Path) -> None:
    engine = make_engine(url)
    clock = ManualClock(datetime.fromisoformat("2026-11-02T01:30:00+00:00"))
    maker = DecisionMaker(
        engine, clock, InProcessVelocity(default_config()), SqlDecisionStore(engine),
        options=DecisionOptions(rules_refresh_s=0.0),  # every decision reads the pointers
    )  # fmt: skip
    maker.follow_champion(RegistryChampion(registry_dir(data_dir)))
    service = RiskService(engine, clock, RiskSettings(), data_dir=data_dir, decisions=maker)
    system = Principal.system("payments")
    analyst = Principal.operator("ana-2", [Role.RISK_ANALYST])
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        clock.set(datetime.fromisoformat(command["now"]))
        answer: dict[str, object]
        if "decide" in command:
            d = maker.decide(system, command["decide"])
            shadow = d.shadow.model_version if d.shadow else None
            answer = {"live": d.model_version, "shadow": shadow}
        else:
            try:
                answer = {"rolled_back_to": service.rollback_model(analyst)}
            except FinbridgeError as exc:
                answer = {"error": str(exc)}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
