"""Where decisions are kept: implementations of the decisions concept's ``DecisionStore`` port
(SQLAlchemy with optional group commit in a thread or a child process) and of its velocity
port on Redis."""

from finbridge.risk.store._group_commit import GroupCommitWriter
from finbridge.risk.store._probe import DecidedProbe
from finbridge.risk.store._process import ProcessWriter
from finbridge.risk.store._redis_velocity import RedisVelocity
from finbridge.risk.store._sql import SqlDecisionStore, write_bundles

__all__ = [
    "DecidedProbe",
    "GroupCommitWriter",
    "ProcessWriter",
    "RedisVelocity",
    "SqlDecisionStore",
    "write_bundles",
]
