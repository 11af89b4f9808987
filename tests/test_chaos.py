from collections import Counter
from dataclasses import replace

import pytest

from joulestream import simulate
from joulestream.chaos import ChaosConfig, Malformed, inject
from joulestream.events import Event, Measurement

T0_MS = 1_767_225_600_000


def fleet() -> list[Event]:
    """4 runs, each a start, 300 measurements and a finish: 1208 events."""
    return list(simulate.fleet(runs=4, duration_s=300, start_ms=T0_MS, seed=5))


def measurements(sequence: list[Event | Malformed]) -> list[Event]:
    """The events of a sequence (every kind), without the malformed records."""
    return [item for item in sequence if isinstance(item, Event)]


def test_no_chaos_changes_nothing():
    """The default config sends the clean events as they are, with their exact totals."""
    events = fleet()
    sequence, manifest = inject(events, ChaosConfig(), seed=1)
    assert sequence == events
    assert (manifest.sent, manifest.valid_events, manifest.malformed) == (1208, 1208, 0)
    run = events[0].run_id
    run_measurements = [e for e in simulate.measurements(events) if e.run_id == run]
    assert manifest.expected[run].energy_j == sum(e.energy_j for e in run_measurements)
    assert manifest.expected[run].events == 300


def test_out_of_order_stays_within_the_bound():
    """Shuffled events never trail one more than the bound newer than themselves."""
    sequence, _ = inject(fleet(), ChaosConfig(out_of_order_ms=5_000), seed=2)
    newest = 0
    worst_lag_ms = 0
    for event in measurements(sequence):
        newest = max(newest, event.ts_ms)
        worst_lag_ms = max(worst_lag_ms, newest - event.ts_ms)
    assert sequence != fleet()
    assert 0 < worst_lag_ms < 5_000


def test_late_events_follow_an_event_far_enough_ahead():
    """Every event the manifest calls late is sent after one at least late_by newer."""
    config = ChaosConfig(late_fraction=0.05, late_by_ms=60_000)
    sequence, manifest = inject(fleet(), config, seed=3)
    assert manifest.late_event_ids
    newest = 0
    late_seen = []
    for event in measurements(sequence):
        if newest - event.ts_ms >= 60_000:
            late_seen.append(event.event_id)
        newest = max(newest, event.ts_ms)
    assert sorted(late_seen) == manifest.late_event_ids
    assert Counter(e.event_id for e in measurements(sequence)) == Counter(
        e.event_id for e in fleet()
    )


def test_duplicates_and_malformed_records_are_not_counted():
    """Duplicates repeat an id; malformed records are extra; the expected totals ignore both."""
    config = ChaosConfig(duplicate_fraction=0.1, malformed_fraction=0.02)
    events = fleet()
    sequence, manifest = inject(events, config, seed=4)
    ids = Counter(e.event_id for e in measurements(sequence))
    assert sorted(i for i, n in ids.items() if n == 2) == manifest.duplicate_event_ids
    assert manifest.malformed == 24 == sum(isinstance(x, Malformed) for x in sequence)
    assert manifest.sent == 1208 + len(manifest.duplicate_event_ids) + 24
    assert sum(t.events for t in manifest.expected.values()) == 1200  # measurements only


def test_clock_skew_shifts_each_run_by_one_constant():
    """A skewed run keeps its interval lengths; the shift is recorded per run."""
    sequence, manifest = inject(fleet(), ChaosConfig(clock_skew_ms=30_000), seed=6)
    original = {e.event_id: e for e in fleet()}
    for event in measurements(sequence):
        shift = manifest.clock_skew_ms[event.run_id]
        assert event.ts_ms == original[event.event_id].ts_ms + shift
        if isinstance(event, Measurement):
            before = original[event.event_id]
            assert isinstance(before, Measurement)
            assert event.interval_start_ms == before.interval_start_ms + shift
    assert all(abs(s) <= 30_000 for s in manifest.clock_skew_ms.values())


def test_same_seed_same_chaos():
    """A chaos run is reproducible from its seed."""
    config = ChaosConfig(out_of_order_ms=2_000, duplicate_fraction=0.05, malformed_fraction=0.01)
    assert inject(fleet(), config, seed=9)[0] == inject(fleet(), config, seed=9)[0]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"late_fraction": 1.5}, "late_fraction must be within"),
        ({"out_of_order_ms": -1}, "out_of_order_ms must be >= 0"),
        ({"late_fraction": 0.1}, "late_fraction needs late_by_ms > 0"),
    ],
)
def test_bad_chaos_settings_are_refused(config, message):
    """Out-of-range knobs fail with a message naming the knob."""
    with pytest.raises(ValueError, match=message):
        ChaosConfig(**config)


def test_all_events_late_keeps_every_event():
    """With late_fraction 1 nothing can precede anything, so all events are sent, none late."""
    events = fleet()
    sequence, manifest = inject(events, ChaosConfig(late_fraction=1.0, late_by_ms=1), seed=1)
    assert sequence == events
    assert manifest.late_event_ids == []


def test_clock_skew_keeps_the_order_of_arrival():
    """Skewed trainers still send in real time: the sequence is the one without skew, event for
    event, with each run's times shifted by its constant (so skewed times are out of order)."""
    config = ChaosConfig(out_of_order_ms=2_000, late_fraction=0.02, late_by_ms=20_000)
    plain, plain_manifest = inject(fleet(), config, seed=7)
    skewed, manifest = inject(fleet(), replace(config, clock_skew_ms=60_000), seed=7)
    assert [e.event_id for e in measurements(skewed)] == [e.event_id for e in measurements(plain)]
    assert manifest.late_event_ids == plain_manifest.late_event_ids
    for before, after in zip(measurements(plain), measurements(skewed), strict=True):
        assert after.ts_ms == before.ts_ms + manifest.clock_skew_ms[after.run_id]
    times = [e.ts_ms for e in measurements(skewed)]
    assert times != sorted(times)
    assert len(set(manifest.clock_skew_ms.values())) == 4
