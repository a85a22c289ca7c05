"""Exact sliding windows: brute-force reference, in-process vs Redis, lateness, floods, outages."""

from __future__ import annotations

import math
import random
import socket
import threading
import time
import uuid

import pytest

from finbridge.core.errors import ValidationError
from finbridge.risk.decisions import (
    EntityFlood,
    EntityWindows,
    InProcessVelocity,
    LateEvent,
    VelocityConfig,
    VelocityEvent,
    VelocityUnavailable,
    default_config,
    parse_span,
)
from finbridge.risk.decisions import _velocity as velocity_module
from finbridge.risk.decisions._velocity import WindowStats, finish
from finbridge.risk.store import RedisVelocity

CONFIG = VelocityConfig(
    entities=(
        EntityWindows("customer", ("1m", "1h", "1d", "180d"), ("device",)),
        EntityWindows("device", ("5m", "7d"), ("customer",)),
        EntityWindows("terminal", ("1h",)),
    ),
    max_lateness_ms=120_000,
)


def stream(n: int, seed: int = 7, jitter: bool = False) -> list[VelocityEvent]:
    rng = random.Random(seed)
    ts = 1_700_000_000_000
    out = []
    for i in range(n):
        ts += rng.choice([1_000, 20_000, 59_999, 60_000, 600_000, 3_600_000, 86_400_000])
        t = ts - rng.randint(0, 180_000) if jitter and rng.random() < 0.2 else ts
        keys = {"customer": f"c{rng.randint(1, 4)}", "device": f"d{rng.randint(1, 3)}"}
        if rng.random() < 0.7:
            keys["terminal"] = f"t{rng.randint(1, 2)}"
        out.append(
            VelocityEvent(
                event_id=f"e{i}",
                ts_ms=t,
                amount_minor=rng.choice([0, 1, 999, 12_345, 5_000_000, rng.randint(0, 10**7)]),
                keys=keys,
                attrs={"device": keys["device"], "customer": keys["customer"]},
            )
        )
    return out


def brute_force(events: list[VelocityEvent], cfg: VelocityConfig) -> list[dict[str, float]]:
    """Recompute every window from scratch over the whole history (in-order streams only)."""
    results = []
    for i, ev in enumerate(events):
        feats: dict[str, float] = {}
        for spec in cfg.entities:
            key = ev.keys.get(spec.entity)
            for label, span in zip(spec.windows, spec.spans, strict=True):
                rows = [
                    e
                    for e in events[: i + 1]
                    if key and e.keys.get(spec.entity) == key and ev.ts_ms - span < e.ts_ms
                ]
                amounts = [e.amount_minor for e in rows]
                n = len(amounts)
                p = f"{spec.entity}_"
                feats[f"{p}count_{label}"] = float(n)
                feats[f"{p}sum_{label}"] = sum(amounts) / 100
                mean = sum(amounts) / n if n else 0
                feats[f"{p}avg_{label}"] = mean / 100
                feats[f"{p}min_{label}"] = min(amounts, default=0) / 100
                feats[f"{p}max_{label}"] = max(amounts, default=0) / 100
                var = sum((a - mean) ** 2 for a in amounts) / n if n else 0
                feats[f"{p}std_{label}"] = math.sqrt(var) / 100
                for a in spec.distinct_of:
                    feats[f"{p}distinct_{a}_{label}"] = float(len({e.attrs[a] for e in rows}))
        results.append(feats)
    return results


@pytest.fixture
def redis_velocity():
    store = RedisVelocity(CONFIG, prefix=f"finbridge:test:{uuid.uuid4().hex}")
    yield store
    store.clear()
    store.close()


def test_spans_cover_one_minute_to_180_days() -> None:
    assert parse_span("1m") == 60_000
    assert parse_span("180d") == 180 * 86_400_000
    with pytest.raises(ValidationError, match=r"outside 1m\.\.180d"):
        parse_span("181d")
    with pytest.raises(ValidationError, match="must look like"):
        parse_span("7 days")


def test_in_process_matches_brute_force_exactly() -> None:
    events = stream(300)
    store = InProcessVelocity(CONFIG)
    got = [store.observe(e) for e in events]
    want = brute_force(events, CONFIG)
    for g, w in zip(got, want, strict=True):
        for name, value in w.items():
            assert g[name] == pytest.approx(value, rel=1e-12, abs=1e-9), name


def test_event_leaves_window_exactly_at_its_span() -> None:
    store = InProcessVelocity(CONFIG)
    t0 = 1_700_000_000_000
    ev = lambda i, t, a: VelocityEvent(f"x{i}", t, a, {"customer": "c"}, {"device": "d"})  # noqa: E731
    store.observe(ev(1, t0, 500))
    just_inside = store.observe(ev(2, t0 + 59_999, 100))
    assert just_inside["customer_count_1m"] == 2
    assert just_inside["customer_max_1m"] == 5.0
    at_edge = store.observe(ev(3, t0 + 60_000, 100))  # (t-60s, t]: the first event is out
    assert at_edge["customer_count_1m"] == 2
    assert at_edge["customer_max_1m"] == 1.0
    assert at_edge["customer_count_1h"] == 3


@pytest.mark.redis
def test_redis_backend_is_identical_to_in_process(redis_velocity: RedisVelocity) -> None:
    events = stream(400, seed=11, jitter=True)
    local = InProcessVelocity(CONFIG)
    for ev in events:
        try:
            want = local.observe(ev)
        except LateEvent:
            with pytest.raises(LateEvent):
                redis_velocity.observe(ev)
            continue
        assert redis_velocity.observe(ev) == want  # bit-identical floats


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_out_of_order_policy_clamps_then_refuses(backend: str, redis_velocity) -> None:
    store = InProcessVelocity(CONFIG) if backend == "memory" else redis_velocity
    t0 = 1_700_000_000_000
    store.observe(VelocityEvent("a", t0, 100, {"customer": "c"}, {"device": "d"}))
    # 90 s late (allowed lateness 120 s): accepted and counted at the watermark.
    f = store.observe(VelocityEvent("b", t0 - 90_000, 200, {"customer": "c"}, {"device": "d"}))
    assert f["customer_count_1m"] == 2
    # 61 s after the watermark both are out of the 1-minute window (the late one was clamped).
    f = store.observe(VelocityEvent("c", t0 + 60_000, 300, {"customer": "c"}, {"device": "d"}))
    assert f["customer_count_1m"] == 1
    # Too late: refused, and nothing changed for any entity (device is new here).
    with pytest.raises(LateEvent, match="older than the latest customer event"):
        store.observe(VelocityEvent("d", t0 - 500_000, 1, {"customer": "c", "device": "new"}, {}))
    f = store.observe(VelocityEvent("e", t0 + 60_000, 1, {"device": "new"}, {"customer": "c"}))
    assert f["device_count_5m"] == 1
    assert f["customer_count_180d"] == 0  # customer absent from this event: empty windows


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_flood_from_one_entity_is_capped(backend: str) -> None:
    cfg = VelocityConfig(CONFIG.entities, max_events_per_entity=50)
    store = (
        InProcessVelocity(cfg)
        if backend == "memory"
        else RedisVelocity(cfg, prefix=f"finbridge:test:{uuid.uuid4().hex}")
    )
    try:
        t0 = 1_700_000_000_000
        for i in range(50):
            store.observe(VelocityEvent(f"f{i}", t0 + i, 1, {"device": "bot"}, {}))
        with pytest.raises(EntityFlood, match="device bot already has 50 events"):
            store.observe(VelocityEvent("f50", t0 + 50, 1, {"device": "bot"}, {}))
        # Other entities are unaffected; after the longest window passes the device is admitted.
        store.observe(VelocityEvent("g", t0 + 51, 1, {"device": "human"}, {}))
        f = store.observe(VelocityEvent("h", t0 + 8 * 86_400_000, 1, {"device": "bot"}, {}))
        assert f["device_count_7d"] == 1
    finally:
        if isinstance(store, RedisVelocity):
            store.clear()
        store.close()


def test_redis_going_away_fails_fast_and_never_hangs(tmp_path) -> None:
    """A real redis-server is killed mid-load; a silent peer that never answers times out."""
    import subprocess

    port = _free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        store = RedisVelocity(CONFIG, url=f"redis://127.0.0.1:{port}/0", timeout_s=0.2)
        _wait_for(store)
        events = stream(60)
        for ev in events[:30]:
            store.observe(ev)
        proc.kill()
        proc.wait()
        started = time.monotonic()
        with pytest.raises(VelocityUnavailable, match="did not answer"):
            store.observe(events[30])
        with pytest.raises(VelocityUnavailable, match="failing fast"):
            store.observe(events[31])
        assert time.monotonic() - started < 1.0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # A peer that accepts the connection and never replies: bounded by the socket timeout.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        store = RedisVelocity(
            CONFIG, url=f"redis://127.0.0.1:{silent.getsockname()[1]}/0", timeout_s=0.2
        )
        started = time.monotonic()
        with pytest.raises(VelocityUnavailable, match="Timeout"):
            store.observe(stream(1)[0])
        assert time.monotonic() - started < 1.0
    finally:
        silent.close()


def test_default_config_has_many_features() -> None:
    names = default_config().feature_names()
    assert len(names) >= 100
    assert "customer_std_180d" in names and "ip_distinct_customer_1h" in names


def test_concurrent_observers_keep_exact_counts() -> None:
    store = InProcessVelocity(CONFIG)
    t0 = 1_700_000_000_000

    def work(k: int) -> None:
        for i in range(200):
            store.observe(VelocityEvent(f"{k}-{i}", t0, 1, {"customer": "c"}, {"device": "d"}))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    f = store.observe(VelocityEvent("last", t0, 1, {"customer": "c"}, {"device": "d"}))
    assert f["customer_count_1m"] == 801


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(store: RedisVelocity) -> None:
    for _ in range(100):
        try:
            store._client.ping()
            return
        except Exception:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def test_dense_bursts_match_brute_force_exactly() -> None:
    # Many events inside every window at once: long monotonic queues, many expiries per event.
    rng = random.Random(11)
    ts = 1_700_000_000_000
    events = []
    for i in range(700):
        ts += rng.choice([0, 1, 500, 5_000, 30_000, 61_000, 400_000])
        keys = {"customer": f"c{rng.randint(1, 2)}", "device": f"d{rng.randint(1, 5)}"}
        amount = rng.choice([i, 10**6 - i, rng.randint(0, 10**5), 7])  # rising, falling, noise
        events.append(
            VelocityEvent(
                f"b{i}", ts, amount, keys, {"device": keys["device"], "customer": keys["customer"]}
            )
        )
    store = InProcessVelocity(CONFIG)
    got = [store.observe(e) for e in events]
    for g, w in zip(got, brute_force(events, CONFIG), strict=True):
        for name, value in w.items():
            assert g[name] == pytest.approx(value, rel=1e-12, abs=1e-9), name


def test_state_adds_nothing_for_the_collector_to_walk() -> None:
    # The windows live in dicts of ints and strings, which the cyclic GC never tracks: a full
    # collection must not have to walk every window of every entity (p99 latency).
    import gc

    store = InProcessVelocity(default_config())
    t0 = 1_700_000_000_000
    gc.collect()
    before = len(gc.get_objects())
    for i in range(3_000):
        keys = {"customer": f"c{i % 500}", "device": f"d{i}", "ip": f"ip{i}", "card": f"k{i % 500}"}
        store.observe(
            VelocityEvent(
                f"g{i}", t0 + i, 100 + i, keys, {"device": f"d{i}", "customer": f"c{i % 500}"}
            )
        )
    gc.collect()
    added = len(gc.get_objects()) - before
    assert store.entity_count() == 500 + 3_000 + 3_000 + 500
    assert added <= 200, added


def test_idle_entities_are_forgotten_after_their_longest_window() -> None:
    cfg = VelocityConfig(
        entities=(EntityWindows("ip", ("1h",)), EntityWindows("customer", ("1m",))),
        max_lateness_ms=60_000,
    )
    store = InProcessVelocity(cfg)
    t0 = 1_700_000_000_000
    store.observe(VelocityEvent("old", t0, 5, {"ip": "stale", "customer": "c"}))
    # A day of traffic from other entities: enough observations to sweep everything once.
    for i in range(20_000):
        store.observe(VelocityEvent(f"n{i}", t0 + 86_400_000 + i, 1, {"customer": "c"}))
    assert store.entity_count() == 1  # only the busy customer is left
    back = store.observe(VelocityEvent("back", t0 + 86_400_000 + 99_999, 7, {"ip": "stale"}))
    assert back["ip_count_1h"] == 1 and back["ip_sum_1h"] == 0.07


def exact_reference(
    events: list[VelocityEvent], cfg: VelocityConfig
) -> list[dict[str, float] | None]:
    """Every window recomputed from the kept history with Python ints and the shared ``finish``
    (what both backends promise bit for bit), with the watermark clamp; None for a late event."""
    wm: dict[tuple[str, str], int] = {}
    kept: dict[tuple[str, str], list[tuple[int, VelocityEvent]]] = {}
    results: list[dict[str, float] | None] = []
    for ev in events:
        present = [(s.entity, ev.keys[s.entity]) for s in cfg.entities if ev.keys.get(s.entity)]
        if any(e in wm and ev.ts_ms < wm[e] - cfg.max_lateness_ms for e in present):
            results.append(None)
            continue
        feats: dict[str, float] = {}
        for spec in cfg.entities:
            key = ev.keys.get(spec.entity)
            rows: list[tuple[int, VelocityEvent]] = []
            now = ev.ts_ms
            if key:
                now = wm[spec.entity, key] = max(wm.get((spec.entity, key), now), now)
                rows = kept.setdefault((spec.entity, key), [])
                rows.append((now, ev))
                rows[:] = [r for r in rows if r[0] > now - max(spec.spans)]  # gone for good
            for label, span in zip(spec.windows, spec.spans, strict=True):
                inside = [e for t, e in rows if t > now - span]
                amounts = [e.amount_minor for e in inside]
                distinct = tuple(
                    len({e.attrs[a] for e in inside if e.attrs.get(a) is not None})
                    for a in spec.distinct_of
                )
                stats = WindowStats(
                    len(amounts),
                    sum(amounts),
                    sum(a * a for a in amounts),
                    min(amounts, default=0),
                    max(amounts, default=0),
                    distinct,
                )
                finish(spec, label, stats, cfg.minor_per_major, feats)
        results.append(feats)
    return results


def observed(
    store: InProcessVelocity, events: list[VelocityEvent]
) -> list[dict[str, float] | None]:
    got: list[dict[str, float] | None] = []
    for ev in events:
        try:
            got.append(store.observe(ev))
        except LateEvent:
            got.append(None)
    return got


@pytest.fixture(params=[False, True], ids=["reserved", "grown"])
def grows(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Stores with their arrays reserved up front (the default), or reserved tiny so that they
    grow by doubling while the test runs: both must give the same features."""
    if request.param:
        monkeypatch.setattr(velocity_module, "_ARENA_RESERVE_WORDS", 64)
        monkeypatch.setattr(velocity_module, "_META_RESERVE_ROWS", 4)
    return bool(request.param)


def _assert_grew(store: InProcessVelocity, grows: bool) -> None:
    """The store's queues and entity rows outgrew their reservations, or neither did."""
    arena = store._arena.shape[0] > velocity_module._ARENA_RESERVE_WORDS
    meta = store._meta.shape[0] > velocity_module._META_RESERVE_ROWS
    assert (arena, meta) == (grows, grows)


def _rss_bytes() -> int:
    with open("/proc/self/status") as status:
        line = next(x for x in status if x.startswith("VmRSS:"))
    return int(line.split()[1]) * 1024


def test_the_arrays_are_reserved_and_never_copied_while_they_fill() -> None:
    # Doubling copied every page of the windows under the lock (80-106 ms at the gateway's
    # sizes, each decision in flight waiting): the reservation is made once, lazily mapped.
    InProcessVelocity(default_config())  # the process's first store loads numba (~140 MiB)
    before = _rss_bytes()
    store = InProcessVelocity(default_config())
    reserved = store._arena.nbytes + store._meta.nbytes
    assert reserved > 300 << 20
    assert _rss_bytes() - before < 64 << 20  # address space, not memory
    arena, meta = store._arena.ctypes.data, store._meta.ctypes.data
    t0 = 1_700_000_000_000
    for i in range(5_000):  # 15,000 new entities, far past the old 64 rows and 16,384 words
        keys = {"customer": f"c{i}", "device": f"d{i}", "ip": f"ip{i}", "card": f"k{i % 50}"}
        store.observe(VelocityEvent(f"a{i}", t0 + i, 100, keys, {"device": f"d{i}"}))
    assert store.entity_count() == 15_050
    assert (store._arena.ctypes.data, store._meta.ctypes.data) == (arena, meta)


def test_default_windows_equal_the_exact_reference_bit_for_bit(grows: bool) -> None:
    # All six entity types, 20 windows from 1m to 180d, late events clamped or refused, values
    # missing for some distinct counts: every float equal to Python ints through ``finish``.
    rng = random.Random(3)
    cfg = default_config()
    ts = 1_700_000_000_000
    events = []
    for i in range(300):
        ts += rng.choice([0, 1_000, 59_999, 60_000, 3_600_000, 86_400_000, 7 * 86_400_000])
        t = ts - rng.randint(0, 400_000) if rng.random() < 0.15 else ts
        c = f"c{rng.randint(1, 4)}"
        keys = {"customer": c, "device": f"d{rng.randint(1, 3)}", "ip": f"i{rng.randint(1, 6)}"}
        keys |= {"card": f"k{rng.randint(1, 3)}", "terminal": f"t{rng.randint(1, 3)}"}
        if rng.random() < 0.5:
            keys["payee"] = f"p{rng.randint(1, 5)}"
        attrs = {"customer": c, "payee": keys.get("payee")}
        if rng.random() < 0.8:
            attrs["device"] = keys["device"]
        amount = rng.choice([0, 1, 99, 12_345, rng.randint(0, 10**7)])
        events.append(VelocityEvent(f"r{i}", t, amount, keys, attrs))  # type: ignore[arg-type]
    store = InProcessVelocity(cfg)
    got = observed(store, events)
    want = exact_reference(events, cfg)
    assert sum(w is None for w in want) > 5  # some were refused as late
    assert got == want
    _assert_grew(store, grows)


def test_huge_amounts_stay_exact_and_too_large_is_refused() -> None:
    # Sums past 2**53 and sums of squares past 2**63 (amounts up to the platform's 10**15): the
    # kernel hands those windows to Python's integers, so the floats still equal the reference.
    cfg = VelocityConfig((EntityWindows("customer", ("1m", "1d"), ("device",)),))
    rng = random.Random(5)
    big = [0, 1, 3_037_000_499, 3_037_000_500, 10**15, (1 << 50) - 1]
    events = [
        VelocityEvent(
            f"h{i}",
            1_700_000_000_000 + i * 7_000,
            rng.choice([*big, rng.randint(0, 10**15)]),
            {"customer": f"c{rng.randint(1, 2)}"},
            {"device": f"d{rng.randint(1, 3)}"},
        )
        for i in range(200)
    ]
    store = InProcessVelocity(cfg)
    assert observed(store, events) == exact_reference(events, cfg)
    t = events[-1].ts_ms
    with pytest.raises(ValidationError, match="below"):
        store.observe(VelocityEvent("x", t, 1 << 50, {"customer": "c1"}))
    last = VelocityEvent("y", t, 0, {"customer": "c1"})  # the refused one changed nothing
    assert store.observe(last) == exact_reference([*events, last], cfg)[-1]


def test_forgotten_entities_free_their_room(grows: bool) -> None:
    # Thousands of short-lived entities: slots and ring blocks are reused after the sweep, busy
    # ones grow their rings, and every feature stays exact.
    cfg = VelocityConfig(
        (EntityWindows("ip", ("1m", "5m"), ("customer",)), EntityWindows("customer", ("1m",))),
        max_lateness_ms=60_000,
    )
    rng = random.Random(9)
    ts = 1_700_000_000_000
    events = []
    for i in range(3_000):
        ts += rng.choice([10, 1_000, 30_000, 400_000])
        ip = f"ip{i // 10}" if rng.random() < 0.9 else "busy"
        attrs = {"customer": f"c{rng.randint(1, 50)}"}
        events.append(
            VelocityEvent(f"f{i}", ts, rng.randint(0, 10**6), {"ip": ip, "customer": "c"}, attrs)
        )
    dicts = InProcessVelocity(cfg)
    want = exact_reference(events, cfg)
    for ev, w in zip(events, want, strict=True):
        assert dicts.observe(ev) == w
    assert dicts.entity_count() < 100  # the idle ips were forgotten
    assert dicts._next_slot < 150  # and their slots reused (~300 ips came and went)
    _assert_grew(dicts, grows)
