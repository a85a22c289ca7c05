"""The same exact sliding windows as :mod:`finbridge.risk.decisions._velocity`, with state in Redis.

One Lua script per event does everything atomically on the server: checks every entity's
watermark (lateness) and flood cap, then for each entity and window adds the event, expires the
events that left the window and reads the aggregates back. Layout per entity instance:

* ``<ns>:<entity>:<id>:wm`` - watermark (ms)
* ``<ns>:<entity>:<id>:z`` - sorted set of events by time (member = JSON with id, amount, amount²,
  distinct values), trimmed at the longest window
* ``...:w<i>:h`` - hash ``n``, ``s``, ``ss`` (exact int64 running sums via HINCRBY) and ``lo``
  (the window's last cut: events in ``(lo, cut]`` are the ones that leave on the next event)
* ``...:w<i>:a`` - sorted set of the window's events by amount (min/max)
* ``...:w<i>:d<j>`` - hash value -> count for the j-th distinct-counted attribute

Squares are computed in Python and passed as strings, so Lua's doubles never round an aggregate.
Every call has a socket timeout; a failed call opens a short circuit breaker so later decisions
fail fast instead of each waiting for the timeout.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from typing import Any

import redis

from finbridge.risk.decisions._velocity import (
    EntityFlood,
    LateEvent,
    VelocityConfig,
    VelocityEvent,
    VelocityUnavailable,
    WindowStats,
    finish,
)

_LUA = r"""
local req = cjson.decode(ARGV[1])
local ts = tonumber(req.ts)
local late = tonumber(req.late)
local cap = tonumber(req.cap)
local ttl = tonumber(req.ttl)

local function expire(base, i, span, now)
  local h = base .. ':w' .. i .. ':h'
  local cut = now - span
  local lo = redis.call('HGET', h, 'lo')
  local from = '-inf'
  if lo then from = '(' .. lo end
  local gone = redis.call('ZRANGEBYSCORE', base .. ':z', from, cut)
  for _, m in ipairs(gone) do
    local ev = cjson.decode(m)
    redis.call('HINCRBY', h, 'n', -1)
    if ev[2] ~= '0' then
      redis.call('HINCRBY', h, 's', '-' .. ev[2])
      redis.call('HINCRBY', h, 'ss', '-' .. ev[3])
    end
    redis.call('ZREM', base .. ':w' .. i .. ':a', ev[1])
    for j, v in ipairs(ev[4]) do
      if v ~= cjson.null then
        local d = base .. ':w' .. i .. ':d' .. j
        if redis.call('HINCRBY', d, v, -1) <= 0 then redis.call('HDEL', d, v) end
      end
    end
  end
  redis.call('HSET', h, 'lo', cut)
end

-- phase 1: admission (nothing is written for a refused event, except harmless expiry)
local clamped = {}
for k, ent in ipairs(req.e) do
  local base = ent.b
  local wm = redis.call('GET', base .. ':wm')
  local t = ts
  if wm then
    wm = tonumber(wm)
    if ts < wm - late then return {'late', ent.t, tostring(wm)} end
    if wm > ts then t = wm end
    expire(base, ent.l, ent.s[ent.l], t)
    local n = tonumber(redis.call('HGET', base .. ':w' .. ent.l .. ':h', 'n') or '0')
    if n >= cap then return {'flood', ent.t, tostring(n)} end
  end
  clamped[k] = t
end

-- phase 2: add, expire, read
local out = {'ok'}
for k, ent in ipairs(req.e) do
  local base = ent.b
  local t = clamped[k]
  redis.call('SET', base .. ':wm', t, 'PX', ttl)
  redis.call('ZADD', base .. ':z', t, cjson.encode({req.id, req.a, req.q, ent.v}))
  for i, span in ipairs(ent.s) do
    local h = base .. ':w' .. i .. ':h'
    local a = base .. ':w' .. i .. ':a'
    redis.call('HINCRBY', h, 'n', 1)
    redis.call('HINCRBY', h, 's', req.a)
    redis.call('HINCRBY', h, 'ss', req.q)
    redis.call('ZADD', a, req.a, req.id)
    for j, v in ipairs(ent.v) do
      if v ~= cjson.null then redis.call('HINCRBY', base .. ':w' .. i .. ':d' .. j, v, 1) end
    end
    expire(base, i, span, t)
    local agg = redis.call('HMGET', h, 'n', 's', 'ss')
    local mn = redis.call('ZRANGE', a, 0, 0, 'WITHSCORES')
    local mx = redis.call('ZRANGE', a, -1, -1, 'WITHSCORES')
    out[#out + 1] = agg[1]
    out[#out + 1] = agg[2]
    out[#out + 1] = agg[3]
    out[#out + 1] = mn[2] or '0'
    out[#out + 1] = mx[2] or '0'
    for j, _ in ipairs(ent.v) do
      out[#out + 1] = tostring(redis.call('HLEN', base .. ':w' .. i .. ':d' .. j))
    end
    redis.call('PEXPIRE', h, ttl)
    redis.call('PEXPIRE', a, ttl)
    for j, _ in ipairs(ent.v) do redis.call('PEXPIRE', base .. ':w' .. i .. ':d' .. j, ttl) end
  end
  redis.call('ZREMRANGEBYSCORE', base .. ':z', '-inf', t - ent.s[ent.l])
  redis.call('PEXPIRE', base .. ':z', ttl)
end
return out
"""


def config_namespace(prefix: str, config: VelocityConfig) -> str:
    """Key namespace; includes a hash of the window layout so a changed layout starts fresh."""
    layout = json.dumps(
        [(e.entity, e.windows, e.distinct_of) for e in config.entities], sort_keys=True
    )
    return f"{prefix}:{hashlib.sha256(layout.encode()).hexdigest()[:10]}"


class RedisVelocity:
    """Velocity state in Redis: identical features to :class:`InProcessVelocity`."""

    def __init__(
        self,
        config: VelocityConfig,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "finbridge:risk:v",
        timeout_s: float = 0.2,
        breaker_s: float = 1.0,
        client: redis.Redis | None = None,
    ) -> None:
        self.config = config
        self.namespace = config_namespace(prefix, config)
        self._client = client or redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry_on_timeout=False,
            health_check_interval=0,
        )
        self._script = self._client.register_script(_LUA)
        self._breaker_s = breaker_s
        self._open_until = 0.0
        self._last_error = ""
        self._lock = threading.Lock()
        self._ttl = max(e.spans[e.longest] for e in config.entities) + config.max_lateness_ms

    def observe(self, event: VelocityEvent) -> dict[str, float]:
        if event.amount_minor < 0:
            raise ValueError("velocity amounts are non-negative minor units")
        cfg = self.config
        present = [(spec, key) for spec in cfg.entities if (key := event.keys.get(spec.entity))]
        request = {
            "ts": event.ts_ms,
            "late": cfg.max_lateness_ms,
            "cap": cfg.max_events_per_entity,
            "ttl": self._ttl,
            "id": event.event_id,
            "a": str(event.amount_minor),
            "q": str(event.amount_minor * event.amount_minor),
            "e": [
                {
                    "b": f"{self.namespace}:{spec.entity}:{key}",
                    "t": spec.entity,
                    "s": list(spec.spans),
                    "l": spec.longest + 1,
                    "v": [event.attrs.get(a) for a in spec.distinct_of],
                }
                for spec, key in present
            ],
        }
        reply = self._call(json.dumps(request))
        status = _text(reply[0])
        if status == "late":
            wm = int(_text(reply[2]))
            raise LateEvent(
                f"event is {(wm - event.ts_ms) / 1000:.0f}s older than the latest "
                f"{_text(reply[1])} event; at most {cfg.max_lateness_ms / 1000:.0f}s of "
                "lateness is accepted",
                field="occurred_at",
            )
        if status == "flood":
            entity = _text(reply[1])
            raise EntityFlood(
                f"{entity} {event.keys.get(entity)} already has {_text(reply[2])} events in its "
                f"longest window (cap {cfg.max_events_per_entity})",
                field=f"keys.{entity}",
            )
        out: dict[str, float] = {}
        pos = 1
        seen = {spec.entity for spec, _ in present}
        for spec in cfg.entities:
            nd = len(spec.distinct_of)
            for label in spec.windows:
                if spec.entity in seen:
                    n, s, ss, mn, mx = (int(float(_text(x))) for x in reply[pos : pos + 5])
                    distinct = tuple(int(_text(x)) for x in reply[pos + 5 : pos + 5 + nd])
                    pos += 5 + nd
                    st = WindowStats(n, s, ss, mn, mx, distinct)
                else:
                    st = WindowStats(0, 0, 0, 0, 0, tuple(0 for _ in range(nd)))
                finish(spec, label, st, cfg.minor_per_major, out)
        return out

    def claim(self, event_id: str, ts_ms: int) -> bool:
        """Mark an observed event counted (SET NX, expiring with the longest window): every
        process sharing these windows sees the mark, so no two count the same event."""
        try:
            return bool(
                self._client.set(f"{self.namespace}:seen:{event_id}", ts_ms, nx=True, px=self._ttl)
            )
        except (redis.exceptions.RedisError, OSError) as exc:
            raise VelocityUnavailable(f"velocity store (Redis) did not answer: {exc}") from exc

    def release(self, event_id: str) -> None:
        try:
            self._client.delete(f"{self.namespace}:seen:{event_id}")
        except (redis.exceptions.RedisError, OSError) as exc:
            raise VelocityUnavailable(f"velocity store (Redis) did not answer: {exc}") from exc

    def _call(self, payload: str) -> Any:
        now = time.monotonic()
        if now < self._open_until:
            raise VelocityUnavailable(
                f"velocity store (Redis) unavailable, failing fast: {self._last_error}"
            )
        try:
            return self._script(args=[payload])
        except redis.exceptions.ResponseError:
            raise  # a script bug must surface, not be mistaken for an outage
        except (redis.exceptions.RedisError, OSError) as exc:
            with self._lock:
                self._last_error = f"{type(exc).__name__}: {exc}"
                self._open_until = time.monotonic() + self._breaker_s
            raise VelocityUnavailable(
                f"velocity store (Redis) did not answer: {self._last_error}"
            ) from exc

    def clear(self) -> int:
        """Delete this namespace's keys (tests and re-builds); returns how many."""
        removed = 0
        for key in self._client.scan_iter(match=f"{self.namespace}:*", count=1000):
            removed += int(self._client.delete(key))
        return removed

    def close(self) -> None:
        self._client.close()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
