"""The feature store: feature views written once in Ibis, materialised offline (Parquet via
DuckDB; the same expressions run on Spark) and online (in-process or Redis), and
point-in-time correct training sets.

- :class:`FeatureView` / :class:`Feature`: a definition (entity, source, features, TTL, owner,
  version); :func:`trailing` builds the usual trailing window. A definition that reads the future
  is refused with :class:`FutureReadError` naming the feature.
- :class:`FeatureRegistry`: views by name and version.
- :class:`FeatureStore`: ``materialize(name, events)``, ``training_set(labels, ["view",
  "view:feature"])``, ``online_features(name, ids)``, ``status()``.
- :class:`FeatureService`: the authorised face (``platform.features``; operators only).
- :func:`fraud_transaction_view`: the fraud model's inputs per payment, which the risk
  engine's retraining joins its labels with (``risk.learning.FeatureStoreHistory``).
- :func:`feature_frame` / :func:`point_in_time_join`: the two expressions, for any Ibis backend
  (the Spark path and the benchmark use them directly).
"""

from finbridge.lake.featurestore._definitions import (
    ENTITY_TIME,
    Feature,
    FeatureView,
    FutureReadError,
    feature_frame,
    trailing,
)
from finbridge.lake.featurestore._online import MemoryOnlineStore, OnlineStore, RedisOnlineStore
from finbridge.lake.featurestore._pit import number_labels, point_in_time_join
from finbridge.lake.featurestore._service import LAKE_VIEWS, FeatureService
from finbridge.lake.featurestore._store import (
    FeatureRegistry,
    FeatureStore,
    FrameCheck,
    Materialisation,
    ViewStatus,
)
from finbridge.lake.featurestore._views import (
    CREDIT_VIEW,
    FRAUD_VIEW,
    card_spend_view,
    credit_profile_view,
    default_views,
    fraud_transaction_view,
    recorded_view,
    spend_profile_view,
)

__all__ = [
    "CREDIT_VIEW",
    "ENTITY_TIME",
    "FRAUD_VIEW",
    "LAKE_VIEWS",
    "Feature",
    "FeatureRegistry",
    "FeatureService",
    "FeatureStore",
    "FeatureView",
    "FrameCheck",
    "FutureReadError",
    "Materialisation",
    "MemoryOnlineStore",
    "OnlineStore",
    "RedisOnlineStore",
    "ViewStatus",
    "card_spend_view",
    "credit_profile_view",
    "default_views",
    "feature_frame",
    "fraud_transaction_view",
    "number_labels",
    "point_in_time_join",
    "recorded_view",
    "spend_profile_view",
    "trailing",
]
