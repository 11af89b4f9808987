"""Chaos for testing the pipeline: reorder, delay, duplicate, corrupt and skew a fleet's events.

``inject`` turns the clean, event-time-ordered events of a simulated fleet into the sequence a
pipeline would see from misbehaving trainers and networks, and returns a manifest of exactly
what it did together with the totals the pipeline must report: every valid event counted once,
late ones included; duplicates and malformed records not counted.
"""

import bisect
import itertools
import random
from dataclasses import dataclass, field, replace
from typing import Any

from joulestream import limits
from joulestream.events import Event, Measurement


@dataclass(frozen=True)
class ChaosConfig:
    """How much of each fault to inject; all zero (the default) changes nothing."""

    out_of_order_ms: int = 0
    """Events are shuffled within windows of this much event time (stays within a watermark
    bound of at least this size)."""
    late_fraction: float = 0.0
    """Share of events sent only after events ``late_by_ms`` newer than them."""
    late_by_ms: int = 0
    duplicate_fraction: float = 0.0
    """Share of events sent a second time, later, with the same event id."""
    malformed_fraction: float = 0.0
    """Number of undecodable records to add, as a share of the event count."""
    clock_skew_ms: int = 0
    """Each run's clock is off by a constant drawn from [-clock_skew_ms, clock_skew_ms]: its
    events' times are shifted by it, and they are sent in the order they would be without
    skew (the order the trainers produced them)."""

    def __post_init__(self) -> None:
        for name in ("late_fraction", "duplicate_fraction", "malformed_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {getattr(self, name)}")
        for name in ("out_of_order_ms", "late_by_ms", "clock_skew_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.late_fraction > 0 and self.late_by_ms == 0:
            raise ValueError("late_fraction needs late_by_ms > 0")


@dataclass(frozen=True)
class Malformed:
    """Bytes that are not a valid event, sent with a key like any event."""

    key: str
    value: bytes


Outgoing = Event | Malformed


@dataclass
class RunTotals:
    """What the pipeline must report for one run."""

    events: int = 0
    cpu_energy_j: float = 0.0
    gpu_energy_j: float = 0.0
    ram_energy_j: float = 0.0
    energy_j: float = 0.0
    samples: int = 0

    def add(self, event: Measurement) -> None:
        self.events += 1
        self.cpu_energy_j += event.cpu_energy_j
        self.gpu_energy_j += event.gpu_energy_j
        self.ram_energy_j += event.ram_energy_j
        self.energy_j += event.energy_j
        self.samples += event.samples or 0


@dataclass
class Manifest:
    """What ``inject`` did, and the truth to check a pipeline against."""

    config: ChaosConfig
    sent: int = 0
    valid_events: int = 0
    late_event_ids: list[str] = field(default_factory=list)
    duplicate_event_ids: list[str] = field(default_factory=list)
    malformed: int = 0
    clock_skew_ms: dict[str, int] = field(default_factory=dict)
    expected: dict[str, RunTotals] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config.__dict__,
            "sent": self.sent,
            "valid_events": self.valid_events,
            "malformed": self.malformed,
            "late_event_ids": self.late_event_ids,
            "duplicate_event_ids": self.duplicate_event_ids,
            "clock_skew_ms": self.clock_skew_ms,
            "expected": {run: totals.__dict__ for run, totals in sorted(self.expected.items())},
        }


def inject(
    events: list[Event], config: ChaosConfig, seed: int = 0
) -> tuple[list[Outgoing], Manifest]:
    """The sequence to send and its manifest. ``events`` must be in event-time order."""
    rng = random.Random(seed)
    manifest = Manifest(config)
    for event in events:
        totals = manifest.expected.setdefault(event.run_id, RunTotals())
        if isinstance(event, Measurement):
            totals.add(event)
    manifest.valid_events = len(events)

    # Reordering, delays and duplicates happen in real time, which the events' true times
    # stand for; skew then changes only what each trainer's clock wrote in its events.
    sequence: list[Outgoing] = list(_shuffle_within(events, config.out_of_order_ms, rng))
    sequence = _delay(sequence, config, rng, manifest)
    sequence = _duplicate(sequence, config, rng, manifest)
    sequence = _skew(sequence, config, random.Random(f"{seed}/clock-skew"), manifest)
    sequence = _corrupt(sequence, config, rng, manifest)
    manifest.sent = len(sequence)
    return sequence, manifest


def _skew(
    sequence: list[Outgoing], config: ChaosConfig, rng: random.Random, manifest: Manifest
) -> list[Outgoing]:
    """Shift each run's times by a constant of its own, keeping the order of arrival: a skewed
    trainer still sends in real time, only the times it writes are off."""
    if config.clock_skew_ms == 0:
        return sequence
    runs = sorted({item.run_id for item in sequence if isinstance(item, Event)})
    skew = {run: rng.randint(-config.clock_skew_ms, config.clock_skew_ms) for run in runs}
    manifest.clock_skew_ms = skew
    shifted: dict[str, Event] = {}
    with limits.event_time_window(limits.ANY_TIME):  # a skewed clock may be far off
        for item in sequence:
            if isinstance(item, Event) and item.event_id not in shifted:
                shifted[item.event_id] = _shifted(item, skew[item.run_id])
    return [shifted[item.event_id] if isinstance(item, Event) else item for item in sequence]


def _shifted(event: Event, by_ms: int) -> Event:
    if isinstance(event, Measurement):
        return replace(
            event, interval_start_ms=event.interval_start_ms + by_ms, ts_ms=event.ts_ms + by_ms
        )
    return replace(event, ts_ms=event.ts_ms + by_ms)


def _shuffle_within(events: list[Event], bound_ms: int, rng: random.Random) -> list[Event]:
    """Shuffle inside consecutive buckets of ``bound_ms`` event time: no event moves behind one
    more than ``bound_ms`` newer than itself."""
    if bound_ms == 0 or not events:
        return events
    out: list[Event] = []
    bucket: list[Event] = []
    bucket_start = events[0].ts_ms
    for event in events:
        if event.ts_ms - bucket_start >= bound_ms:
            rng.shuffle(bucket)
            out += bucket
            bucket, bucket_start = [], event.ts_ms
        bucket.append(event)
    rng.shuffle(bucket)
    return out + bucket


def _delay(
    sequence: list[Outgoing], config: ChaosConfig, rng: random.Random, manifest: Manifest
) -> list[Outgoing]:
    """Move some events to just after the first event ``late_by_ms`` newer than them."""
    if config.late_fraction == 0:
        return sequence
    chosen = {i for i in range(len(sequence)) if rng.random() < config.late_fraction}
    kept = [item for i, item in enumerate(sequence) if i not in chosen]
    if not kept:  # everything chosen: nothing is sent before anything else, so none is late
        return sequence
    newest_so_far = list(itertools.accumulate((_ts(item) for item in kept), max))
    after: dict[int, list[Outgoing]] = {}
    for i in sorted(chosen):
        event = sequence[i]
        assert isinstance(event, Event)
        position = bisect.bisect_left(newest_so_far, event.ts_ms + config.late_by_ms)
        if position == len(kept):  # nothing newer enough is sent: it cannot be late
            position = len(kept) - 1
        else:
            manifest.late_event_ids.append(event.event_id)
        after.setdefault(position, []).append(event)
    manifest.late_event_ids.sort()
    return _merge(kept, after)


def _duplicate(
    sequence: list[Outgoing], config: ChaosConfig, rng: random.Random, manifest: Manifest
) -> list[Outgoing]:
    """Send some events a second time, somewhere after the first."""
    if config.duplicate_fraction == 0:
        return sequence
    after: dict[int, list[Outgoing]] = {}
    for i, item in enumerate(sequence):
        if isinstance(item, Event) and rng.random() < config.duplicate_fraction:
            after.setdefault(rng.randint(i, len(sequence) - 1), []).append(item)
            manifest.duplicate_event_ids.append(item.event_id)
    manifest.duplicate_event_ids.sort()
    return _merge(sequence, after)


def _merge(sequence: list[Outgoing], after: dict[int, list[Outgoing]]) -> list[Outgoing]:
    """``sequence`` with ``after[i]`` inserted right after its i-th item."""
    out: list[Outgoing] = []
    for i, item in enumerate(sequence):
        out.append(item)
        out += after.get(i, [])
    return out


def _corrupt(
    sequence: list[Outgoing], config: ChaosConfig, rng: random.Random, manifest: Manifest
) -> list[Outgoing]:
    count = round(config.malformed_fraction * manifest.valid_events)
    out = list(sequence)
    for n in range(count):
        junk = Malformed(key=f"malformed-{n}", value=rng.randbytes(rng.randint(1, 40)))
        out.insert(rng.randint(0, len(out)), junk)
    manifest.malformed = count
    return out


def _ts(item: Outgoing) -> int:
    # Malformed records are added after delays are placed, so only events get here.
    assert isinstance(item, Event)
    return item.ts_ms
