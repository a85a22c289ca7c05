"""The event stream on NATS JetStream (used when ``FINBRIDGE_EVENT_BUS`` is set).

- :class:`BusSink` is the outbox relay's sink: committed outbox rows go to one JetStream stream,
  a subject per event type (``<prefix>.<event type>``), the event id as JetStream's message id
  (``Nats-Msg-Id``, de-duplicated inside the duplicate window); rows are marked published only
  after the acks; unknown types/versions are refused and flagged in the outbox; the relay pauses
  while a durable consumer is more than ``stream.max_pending`` behind.
- :class:`StreamConsumer` runs one durable consumer (:class:`StreamHandler`): apply once (a
  ledger row per event id in the effect's transaction), then acknowledge. :class:`LakeWriter`
  feeds the event lake through its append API.
- :class:`EventStream` is the service face: status, replay from a time, the consumers.
"""

from finbridge.lake.stream._bus import ConsumerLag, JetStreamBus, PublishResult, StreamedEvent
from finbridge.lake.stream._codec import check_publishable, decode, encode, subject_for
from finbridge.lake.stream._consumer import (
    ConsumeResult,
    LakeWriter,
    StreamConsumer,
    StreamHandler,
    ack,
    apply_once,
)
from finbridge.lake.stream._loop import LoopThread
from finbridge.lake.stream._service import EventStream, ReplayResult, StreamStatus
from finbridge.lake.stream._sink import BusSink

__all__ = [
    "BusSink",
    "ConsumeResult",
    "ConsumerLag",
    "EventStream",
    "JetStreamBus",
    "LakeWriter",
    "LoopThread",
    "PublishResult",
    "ReplayResult",
    "StreamConsumer",
    "StreamHandler",
    "StreamStatus",
    "StreamedEvent",
    "ack",
    "apply_once",
    "check_publishable",
    "decode",
    "encode",
    "subject_for",
]
