"""Joint credit job on the full Taiwan data between two party processes over HTTPS + mTLS.

The bank runs in this process, the partner in a child process; each holds only its own columns
(bank: LIMIT_BAL, SEX, EDUCATION, MARRIAGE, AGE, PAY_0..6 + label; partner: BILL_AMT1..6,
PAY_AMT1..6) and its own id list (~70% overlap). The timed job is PSI + training + held-out
evaluation with 2048-bit Paillier keys. Then, in this process only for comparison: centralised
twins (all columns in one place), LightGBM and the scorecard on the same rows.
Run: .venv/bin/python benchmarks/credit_federated.py [--data-dir ../shared/datasets]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from finbridge.credit import PeerLink
from finbridge.credit.challenger import LightGBMChallenger
from finbridge.credit.datasets import (
    TAIWAN_BANK_COLUMNS,
    TAIWAN_PARTNER_COLUMNS,
    TAIWAN_TARGET,
    taiwan,
)
from finbridge.credit.metrics import discrimination
from finbridge.credit.pki import make_certificates
from finbridge.credit.scorecard import Scorecard
from finbridge.credit.vfl import vertical_split
from finbridge.credit.vfl.service import PartyService, config_from
from finbridge.credit.vfl.twin import centralised_twins
from finbridge.party import PartyServer


def _partner(data_path: str, certs: str, bank_url: str, urls) -> None:  # type: ignore[no-untyped-def]
    _, partner = _split(data_path)
    service = PartyService("partner", partner, Path(certs), bank_url)
    server = PartyServer(service.endpoint, Path(certs))
    urls["partner"] = server.url
    server.serve_forever()


def _split(data_path: str):  # type: ignore[no-untyped-def]
    return vertical_split(
        taiwan(Path(data_path)), id_column="ID", target=TAIWAN_TARGET,
        bank_columns=TAIWAN_BANK_COLUMNS, partner_columns=TAIWAN_PARTNER_COLUMNS, overlap=0.7,
    )  # fmt: skip


def _wait(link: PeerLink, job_id: str) -> dict:
    while True:
        status = link.get(f"/jobs/{job_id}")
        if status.get("state") in ("succeeded", "failed"):
            return status
        time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", type=Path, default=Path(__file__).parents[2] / "shared/datasets")
    ap.add_argument("--models", default="secureboost,lr")
    ap.add_argument("--trees", type=int, default=15)
    ap.add_argument("--subsample", type=float, default=0.5)
    ap.add_argument("--lr-iter", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    data_path = str(args.data_dir / "credit" / "uci_taiwan_default.csv")
    print(f"load average before: {os.getloadavg()}")
    bank_data, partner_data = _split(data_path)
    print(f"bank {len(bank_data.ids):,} customers, partner {len(partner_data.ids):,}")
    ctx = mp.get_context("spawn")
    report: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        make_certificates(Path(tmp))
        bank = PartyService("bank", bank_data, Path(tmp), "https://127.0.0.1:1")
        bank_server = PartyServer(bank.endpoint, Path(tmp)).serve_in_background()
        urls = ctx.Manager().dict()
        child = ctx.Process(
            target=_partner, args=(data_path, tmp, bank_server.url, urls), daemon=True
        )
        child.start()
        while "partner" not in urls:
            time.sleep(0.1)
        bank.peer = PeerLink(urls["partner"], Path(tmp), "bank")
        operator = PeerLink(bank_server.url, Path(tmp), "bank")
        for model in args.models.split(","):
            spec = {
                "models": [model], "key_bits": 2048, "workers": args.workers,
                "boost": {"n_trees": args.trees, "max_depth": 3, "learning_rate": 0.3,
                          "subsample": args.subsample},
                "lr": {"n_iter": args.lr_iter, "batch_size": 1024, "lr": 0.05},
            }  # fmt: skip
            t0 = time.perf_counter()
            job_id = operator.post("/jobs", json.dumps(spec).encode())["job_id"]
            status = _wait(operator, job_id)
            wall = time.perf_counter() - t0
            if status["state"] != "succeeded":
                raise SystemExit(f"job failed: {status}")
            result = bank.results[job_id]
            twins = centralised_twins(result, bank_data, partner_data, config_from(spec))
            report[model] = {
                "wall_s": wall,
                "timings": result.timings,  # type: ignore[union-attr]
                "metrics": result.metrics[model],
                "twin": twins[model],
            }  # type: ignore[union-attr]
            keys = result.keys  # type: ignore[union-attr]
        child.terminate()
        bank_server.close()

    # Centralised references on the same shared train/test customers, all columns.
    b_idx = {k: i for i, k in enumerate(bank_data.ids)}
    p_idx = {k: i for i, k in enumerate(partner_data.ids)}

    def pooled(ks: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
        X = pd.concat(
            [bank_data.features.iloc[[b_idx[k] for k in ks]].reset_index(drop=True),
             partner_data.features.iloc[[p_idx[k] for k in ks]].reset_index(drop=True)], axis=1,
        )  # fmt: skip
        return X, bank_data.labels[[b_idx[k] for k in ks]]  # type: ignore[index]

    Xtr, ytr = pooled(keys["joint_train"])
    Xte, yte = pooled(keys["joint_test"])
    t0 = time.perf_counter()
    lgbm = LightGBMChallenger().fit(Xtr, ytr)
    lgbm_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    card = Scorecard().fit(Xtr, ytr)
    card_s = time.perf_counter() - t0
    lgbm_d = discrimination(yte, lgbm.predict_proba(Xte)[:, 1])
    card_d = discrimination(yte, card.predict_proba(Xte)[:, 1])

    print(
        f"\njoint job (PSI + training + held-out evaluation), 2048-bit Paillier, "
        f"{args.workers} encryption workers, HTTPS mTLS between 2 processes:"
    )
    for model, r in report.items():
        m, tw = r["metrics"], r["twin"]
        print(
            f"  {model}: wall {r['wall_s']:.1f}s  timings "
            + ", ".join(f"{k} {v:.1f}s" for k, v in r["timings"].items())
        )
        print(
            f"    held-out: bank-only AUC {m['bank_only']['auc']:.4f} KS {m['bank_only']['ks']:.4f}"
            f" | partnership AUC {m['partnership']['auc']:.4f} KS {m['partnership']['ks']:.4f}"
            f" | coverage {m['coverage']:.1%} | lift AUC {m['lift_auc']:+.4f}"
            f" KS {m['lift_ks']:+.4f}"
        )
        print(
            f"    shared customers: federated AUC {tw['federated']['auc']:.4f} KS "
            f"{tw['federated']['ks']:.4f} vs centralised twin AUC {tw['central']['auc']:.4f} KS "
            f"{tw['central']['ks']:.4f} (gap {tw['auc_gap']:+.5f}); bank-only on shared "
            f"{m['bank_only_on_shared']['auc']:.4f}"
        )
        print(
            f"    ratio to centralised LightGBM training ({lgbm_s:.2f}s): "
            f"{r['wall_s'] / lgbm_s:.0f}x"
        )
    print(
        f"  centralised LightGBM on shared customers: AUC {lgbm_d.auc:.4f} KS {lgbm_d.ks:.4f} "
        f"(train {lgbm_s:.2f}s); scorecard AUC {card_d.auc:.4f} KS {card_d.ks:.4f} "
        f"(train {card_s:.2f}s); scorecard - LightGBM = {card_d.auc - lgbm_d.auc:+.4f}"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
