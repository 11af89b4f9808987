"""The limits every event must respect: one place, with the reason for each number.

The event model (``emitter.events``) applies them when an event is built, the codec when it is
encoded; the Flink job applies the same numbers to whatever else writes the topic (see the table
in ``emitter/README.md``). All bounds are inclusive. Text lengths count characters (code points),
not bytes.

The event-time *window* (how far from now an event's time may be) is the one rule that depends on
when an event is built: it is checked at build time only, against this host's clock, and a
simulation or a backfill that builds events at other times widens it with ``event_time_window``.
The absolute time bounds always apply.
"""

import contextlib
import math
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

# Text, characters.
MAX_TEXT_LEN = 256
"""Identifiers and labels: run_id, user_id, project, model, region, dataset, framework, host,
cpu_model, a GPU's uuid and model, method names, hyper-parameter names. Generous for a UUID
(36), a host name (DNS: 253) or a model name, far from a pasted blob."""
MAX_REASON_LEN = 1024
"""Free text: run_finished.reason (an error message, already cut to this by the tracker)."""
MAX_HYPERPARAMETER_VALUE_LEN = 1024
"""One hyper-parameter value (text): room for a list of layer sizes, not for a config file."""
MAX_HYPERPARAMETERS = 256
"""Hyper-parameters per run_started."""

# Size.
MAX_EVENT_SIZE_BYTES = 512 * 1024
"""Encoded Avro size of one event: half of Kafka's default 1 MB message limit (producer
``message.max.bytes`` 1,000,000, broker ``message.max.bytes`` 1,048,588), so that neither ever
refuses an event that was accepted here. Only run_started can come near it (hyper-parameters,
GPUs); a measurement within the other limits is at most about 0.28 MB (276,000 bytes)."""

# Time, UTC epoch milliseconds.
MIN_TS_MS = 946_684_800_000
"""2000-01-01T00:00:00Z. No run measured by this tool is older; a time given in seconds
(``time.time()`` is about 1.8e9) is far below it."""
MAX_TS_MS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z, the last millisecond of a four-digit year (Java's and Python's date
types end there). Microseconds (about 1.8e15) and ``time.time_ns()`` (about 1.8e18) are far above
it."""
DEFAULT_MAX_AGE_MS = 7 * 24 * 3_600_000
"""At build time, ts_ms at most 7 days before this host's clock: the oldest a live event can be
(a spool kept for a week is replayed, not rebuilt)."""
DEFAULT_MAX_AHEAD_MS = 10 * 60_000
"""At build time, ts_ms at most 10 minutes after this host's clock: clocks of NTP-synchronised
hosts differ by milliseconds; minutes ahead means a wrong clock or a wrong unit."""
MAX_INTERVAL_MS = 24 * 3_600_000
"""A measurement's interval, ts_ms - interval_start_ms: at most a day (the tracker's interval is
at most an hour; a backfill of daily totals still fits)."""

# Energy and power.
MAX_COMPONENT_POWER_W = 100_000.0
"""Mean power of one component of one event (cpu, ram, all GPUs together), and the CPU TDP of a
host: 100 kW is a whole rack (an NVIDIA GB200 NVL72 draws about 120 kW for 72 GPUs, CPUs and
switches; an 8-GPU DGX B200 about 14 kW). A value given in mJ instead of J is 1000x too large and
lands above it."""
MAX_DEVICE_POWER_W = 5_000.0
"""Mean power of one GPU over an interval, and a GPU's idle and maximum power: 3.5x the largest
accelerator today (about 1.4 kW)."""
MIN_CREDITED_INTERVAL_MS = 1_000
"""The energy bound is power x max(interval, 1 s): an interval may be empty or a few ms long
(an epoch closed right after the last measurement) while the meters, read a moment apart from
the clock, still report a little energy."""
MAX_GPUS = 256
"""GPUs per event; a GPU's index is in [0, MAX_GPUS)."""

# Site and grid.
MIN_PUE = 1.0
MAX_PUE = 3.0
"""Power usage effectiveness is total facility power over IT power, so at least 1 by definition.
The industry average is about 1.56 (Uptime Institute survey 2024) and old small server rooms
reach 2 to 2.5; above 3 the facility would use twice the IT load on cooling, which is more
likely a percentage (120 for 1.2) or another mistake that would triple the carbon figure."""
MIN_INTENSITY_G_PER_KWH = 0.0
MAX_INTENSITY_G_PER_KWH = 2_000.0
"""Carbon intensity, g CO2e per kWh: 0 for an all-renewable or nuclear supply; the most
carbon-intensive generation (lignite, oil shale) is about 1,000 to 1,200 g/kWh over its life
cycle (IPCC AR5 ranges), so no grid mix or generator reaches 2,000; kg/kWh or g/MWh slips land
outside."""

# Host.
MAX_CPU_COUNT = 65_536
"""Logical CPUs of one host (the largest single-image servers have a few thousand)."""
MAX_RAM_GB = 100_000.0
"""Memory of one host, GB (the largest single-image servers have tens of TB)."""

# Progress.
MAX_COUNT = 10**15
"""seq, step, and samples and tokens per interval. A whole frontier-model pre-training run is
about 1.5e13 tokens, so no counter reaches 1e15; sums of such counts stay exact in a double
(below 2**53, about 9e15) for thousands of intervals, and far from a BIGINT's 9.2e18."""
MAX_EPOCH = 2**31 - 1
"""The schema's int."""
MAX_ABS_LOSS = 1e100
"""Loss may be negative (a log-likelihood) but is finite and at most 1e100 in magnitude, so
that sums and means of many of them stay finite doubles."""


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """How far from this host's clock an event's ``ts_ms`` may be when it is built; ``None``: no
    bound on that side (the absolute bounds MIN_TS_MS and MAX_TS_MS still apply)."""

    max_age_ms: int | None = DEFAULT_MAX_AGE_MS
    max_ahead_ms: int | None = DEFAULT_MAX_AHEAD_MS

    def __post_init__(self) -> None:
        for name in ("max_age_ms", "max_ahead_ms"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name} must be None or an int, got {value!r}")
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")


LIVE = TimeWindow()
"""The default: 7 days back, 10 minutes ahead."""
ANY_TIME = TimeWindow(None, None)
"""Only the absolute bounds: for simulations, chaos tests and replays of old spools."""

_window: ContextVar[TimeWindow] = ContextVar("joulestream_event_time_window", default=LIVE)


@contextlib.contextmanager
def event_time_window(window: TimeWindow) -> Iterator[TimeWindow]:
    """Build events with ``window`` instead of the default inside this block (this thread or
    task only: a context variable, so threads started elsewhere keep the default)."""
    token = _window.set(window)
    try:
        yield window
    finally:
        _window.reset(token)


def current_time_window() -> TimeWindow:
    return _window.get()


def check_ts_ms(name: str, value: object, window: TimeWindow | None = None) -> None:
    """``value`` is a plausible event time: an int in [MIN_TS_MS, MAX_TS_MS] and, when a window
    is in force (the current one unless given), within it of this host's clock."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int (UTC epoch milliseconds), got {value!r}")
    if not MIN_TS_MS <= value <= MAX_TS_MS:
        raise ValueError(
            f"{name} must be UTC epoch milliseconds in [{MIN_TS_MS}, {MAX_TS_MS}] "
            f"(2000-01-01 to 9999-12-31), got {value!r}: seconds or nanoseconds?"
        )
    window = window or _window.get()
    if window.max_age_ms is None and window.max_ahead_ms is None:
        return
    now_ms = time.time_ns() // 1_000_000
    if window.max_age_ms is not None and value < now_ms - window.max_age_ms:
        raise ValueError(
            f"{name}={value} is {(now_ms - value) / 3_600_000:.1f} h before this host's clock, "
            f"more than {window.max_age_ms} ms (build old events inside "
            f"emitter.limits.event_time_window)"
        )
    if window.max_ahead_ms is not None and value > now_ms + window.max_ahead_ms:
        raise ValueError(
            f"{name}={value} is {(value - now_ms) / 1000:.0f} s after this host's clock, more "
            f"than {window.max_ahead_ms} ms ahead"
        )


def max_energy_j(interval_ms: int, power_w: float) -> float:
    """The most energy a component of mean power ``power_w`` can report over an interval."""
    return power_w * max(interval_ms, MIN_CREDITED_INTERVAL_MS) / 1000


def check_range(name: str, value: object, low: float, high: float, nullable: bool = False) -> None:
    """``value`` is a finite number (not a bool) in [low, high]."""
    if value is None and nullable:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name} must be finite and within [{low:g}, {high:g}], got {value!r}")


def check_encoded_size(size_bytes: int, what: str = "event") -> None:
    if size_bytes > MAX_EVENT_SIZE_BYTES:
        raise ValueError(
            f"{what} is {size_bytes} bytes encoded, more than MAX_EVENT_SIZE_BYTES="
            f"{MAX_EVENT_SIZE_BYTES} (hyper-parameters or GPUs too large?)"
        )
