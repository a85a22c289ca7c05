"""Centralised twins: the same models trained with every column in one place.

Only for evaluation (benchmarks, tests, a regulator's audit sandbox): it needs both parties'
data together, which is exactly what the joint job avoids in production.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from finbridge.credit.vfl import lr as vlr
from finbridge.credit.vfl.binning import QuantileBinner
from finbridge.credit.vfl.data import PartyData
from finbridge.credit.vfl.gbdt import sigmoid
from finbridge.credit.vfl.job import JointConfig, JointResult, _auc_ks
from finbridge.credit.vfl.secureboost import train_central


def centralised_twins(
    result: JointResult, bank: PartyData, partner: PartyData, config: JointConfig
) -> dict[str, Any]:
    """Twin metrics on the same held-out shared customers, and each federated gap."""
    assert bank.labels is not None
    b_index = {k: i for i, k in enumerate(bank.ids)}
    p_index = {k: i for i, k in enumerate(partner.ids)}
    tr, te = result.keys["joint_train"], result.keys["joint_test"]
    binner_b: QuantileBinner = result.models["bank_binner"]
    bins_b = binner_b.transform(bank.features)
    pf = partner.features
    binner_p = QuantileBinner().fit(pf.iloc[[p_index[k] for k in tr]])

    def pooled(keys: list[str]) -> np.ndarray:
        return np.hstack(
            [bins_b[[b_index[k] for k in keys]],
             binner_p.transform(pf.iloc[[p_index[k] for k in keys]])]
        )  # fmt: skip

    X_tr, X_te = pooled(tr), pooled(te)
    y_tr = bank.labels[[b_index[k] for k in tr]]
    y_te = bank.labels[[b_index[k] for k in te]]
    nb = binner_b.n_bins + binner_p.n_bins
    out: dict[str, Any] = {}
    if "secureboost" in result.predictions:
        twin = train_central(X_tr, nb, y_tr, config.boost)
        m = _auc_ks(y_te, twin.predict_proba(X_te, nb))
        fed = _auc_ks(y_te, result.predictions["secureboost"])
        out["secureboost"] = {"central": m, "federated": fed, "auc_gap": fed["auc"] - m["auc"]}
    if "lr" in result.predictions:
        onehot = QuantileBinner(max_bins=binner_b.max_bins)
        onehot.edges_ = binner_b.edges_ + binner_p.edges_
        onehot.columns_ = binner_b.columns_ + binner_p.columns_
        lin = vlr.train_central(onehot.one_hot(X_tr), y_tr, config.lr)
        m = _auc_ks(y_te, sigmoid(lin.raw(onehot.one_hot(X_te))))
        fed = _auc_ks(y_te, result.predictions["lr"])
        out["lr"] = {"central": m, "federated": fed, "auc_gap": fed["auc"] - m["auc"]}
    return out
