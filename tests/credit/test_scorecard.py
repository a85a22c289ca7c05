from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import train_test_split

from finbridge.core.errors import ValidationError
from finbridge.credit import discrimination, split_target
from finbridge.credit.challenger import LightGBMChallenger
from finbridge.credit.datasets import TAIWAN_TARGET, taiwan
from finbridge.credit.scorecard import Scorecard


class TestScorecard:
    def test_german_discriminates_and_follows_sklearn_api(self, german_scorecard, german_split):
        _, Xte, _, yte = german_split
        d = discrimination(yte, german_scorecard.predict_proba(Xte)[:, 1])
        assert d.auc > 0.75 and d.ks > 0.35
        assert math.isclose(d.gini, 2 * d.auc - 1)
        params = clone(german_scorecard).get_params()
        assert params["pdo"] == 20 and params["base_score"] == 600

    def test_points_scaling_matches_base_odds_and_pdo(self, german_split):
        Xtr, Xte, ytr, _ = german_split
        sc = Scorecard(base_score=500, base_odds=20, pdo=40).fit(Xtr, ytr)
        p = sc.predict_proba(Xte)[:, 1]
        odds_good = (1 - p) / p
        expected = 500 + 40 / math.log(2) * np.log(odds_good / 20)
        np.testing.assert_allclose(sc.credit_score(Xte), expected, atol=1e-6)

    def test_reasons_are_features_that_lost_points_against_best_bin(
        self, german_scorecard, german_split
    ):
        _, Xte, _, _ = german_split
        result = german_scorecard.explain(Xte.head(20))
        table = german_scorecard.points_table()
        for r in result:
            assert len(r.reasons) <= 4
            losses = [x.points_lost for x in r.reasons]
            assert losses == sorted(losses, reverse=True)
            for reason in r.reasons:
                best = table[table.feature == reason.feature].points.max()
                assert reason.points_lost == pytest.approx(best - reason.points, abs=0.02)
        assert all(r.band in {"A", "B", "C", "D", "E"} for r in result)

    def test_iv_selection_keeps_only_informative_features(self, german_scorecard):
        iv = german_scorecard.iv_table()
        assert set(iv[iv.selected].feature) == set(german_scorecard.features_)
        assert (iv[iv.selected].iv >= 0.02).all()
        assert (iv[~iv.selected].iv < 0.02).all()

    def test_numeric_bins_are_monotonic(self, german_scorecard):
        table = german_scorecard.points_table()
        for f in german_scorecard.schema_.numeric:
            if f not in german_scorecard.features_:
                continue
            rates = table[(table.feature == f) & table.bin.str.contains(r"[\[\(]")].bad_rate
            diffs = np.diff(rates.to_numpy())
            assert (diffs >= -1e-9).all() or (diffs <= 1e-9).all(), f

    def test_taiwan_slice_without_code_changes(self):
        df = taiwan().drop(columns=["ID"])
        X, y = split_target(df, TAIWAN_TARGET)
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=1, stratify=y)
        sc = Scorecard().fit(Xtr, ytr)
        card = discrimination(yte, sc.predict_proba(Xte)[:, 1]).auc
        lgbm = discrimination(yte, LightGBMChallenger().fit(Xtr, ytr).predict_proba(Xte)[:, 1])
        assert card > 0.72
        assert card >= lgbm.auc - 0.015  # the bar: scorecard within 0.015 of LightGBM


class TestBadInput:
    def test_missing_target(self):
        with pytest.raises(ValidationError, match="target column 'nope' not in the data"):
            split_target(taiwan(), "nope")

    def test_target_with_three_classes(self, german_split):
        Xtr, _, ytr, _ = german_split
        y3 = np.asarray(ytr).copy()
        y3[:5] = 2
        with pytest.raises(ValidationError, match="exactly two classes"):
            Scorecard().fit(Xtr, y3)

    @pytest.mark.parametrize(("value", "match"), [(7, "constant"), (np.nan, "all values are null")])
    def test_constant_or_null_column(self, german_split, value, match):
        Xtr, _, ytr, _ = german_split
        bad = Xtr.assign(broken=value)
        with pytest.raises(ValidationError, match=match) as info:
            Scorecard().fit(bad, ytr)
        assert info.value.field == "broken"
        sc = Scorecard(drop_unusable=True).fit(bad, ytr)
        assert "broken" in sc.schema_.dropped

    def test_unseen_category_at_scoring(self, german_scorecard, german_split):
        _, Xte, _, _ = german_split
        row = Xte.head(1).copy()
        row["purpose"] = "spaceship"
        with pytest.raises(ValidationError, match="unseen category 'spaceship'") as info:
            german_scorecard.explain(row)
        assert info.value.field == "purpose"

    def test_missing_column_and_non_numeric(self, german_scorecard, german_split):
        _, Xte, _, _ = german_split
        with pytest.raises(ValidationError, match="missing feature columns"):
            german_scorecard.predict_proba(Xte.drop(columns=["duration_in_month"]))
        bad = Xte.head(1).astype({"duration_in_month": object})
        bad["duration_in_month"] = "twelve"
        with pytest.raises(ValidationError, match="non-numeric value 'twelve'"):
            german_scorecard.predict_proba(bad)


class TestChallenger:
    def test_lightgbm_reasons_sum_to_log_odds(self, german_split):
        Xtr, Xte, ytr, yte = german_split
        lg = LightGBMChallenger(n_estimators=80).fit(Xtr, ytr)
        assert discrimination(yte, lg.predict_proba(Xte)[:, 1]).auc > 0.72
        res = lg.explain(Xte.head(5))
        p = lg.predict_proba(Xte.head(5))[:, 1]
        for r, pi in zip(res, p, strict=True):
            assert r.probability_bad == pytest.approx(pi, rel=1e-6)
            assert all(x.points_lost > 0 for x in r.reasons)

    def test_lightgbm_unseen_category(self, german_split):
        Xtr, Xte, ytr, _ = german_split
        lg = LightGBMChallenger(n_estimators=10).fit(Xtr, ytr)
        row = Xte.head(1).copy()
        row["housing"] = "castle"
        with pytest.raises(ValidationError, match="unseen category 'castle'"):
            lg.explain(row)
