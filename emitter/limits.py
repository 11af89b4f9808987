"""The limits every event must respect, applied on the trainer's side.

The event model (``joulestream.events``) applies them when an event is built, the codec when it is
encoded; the Flink job applies the same numbers (``schemas/limits.py``, their one home, with
the reason for each) to whatever else writes the topic (see the table in ``emitter/README.md``).
All bounds are inclusive. Text lengths count characters (code points), not bytes.

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

from joulestream.schemas.limits import (
    DEFAULT_MAX_AGE_MS as DEFAULT_MAX_AGE_MS,
)
from joulestream.schemas.limits import (
    DEFAULT_MAX_AHEAD_MS as DEFAULT_MAX_AHEAD_MS,
)
from joulestream.schemas.limits import (
    MAX_ABS_LOSS as MAX_ABS_LOSS,
)
from joulestream.schemas.limits import (
    MAX_COMPONENT_POWER_W as MAX_COMPONENT_POWER_W,
)
from joulestream.schemas.limits import (
    MAX_COUNT as MAX_COUNT,
)
from joulestream.schemas.limits import (
    MAX_CPU_COUNT as MAX_CPU_COUNT,
)
from joulestream.schemas.limits import (
    MAX_DEVICE_POWER_W as MAX_DEVICE_POWER_W,
)
from joulestream.schemas.limits import (
    MAX_EPOCH as MAX_EPOCH,
)
from joulestream.schemas.limits import (
    MAX_EVENT_SIZE_BYTES as MAX_EVENT_SIZE_BYTES,
)
from joulestream.schemas.limits import (
    MAX_GPUS as MAX_GPUS,
)
from joulestream.schemas.limits import (
    MAX_HYPERPARAMETER_VALUE_LEN as MAX_HYPERPARAMETER_VALUE_LEN,
)
from joulestream.schemas.limits import (
    MAX_HYPERPARAMETERS as MAX_HYPERPARAMETERS,
)
from joulestream.schemas.limits import (
    MAX_INTENSITY_G_PER_KWH as MAX_INTENSITY_G_PER_KWH,
)
from joulestream.schemas.limits import (
    MAX_INTERVAL_MS as MAX_INTERVAL_MS,
)
from joulestream.schemas.limits import (
    MAX_PUE as MAX_PUE,
)
from joulestream.schemas.limits import (
    MAX_RAM_GB as MAX_RAM_GB,
)
from joulestream.schemas.limits import (
    MAX_REASON_LEN as MAX_REASON_LEN,
)

# The numbers are part of the contract, shared with the Flink job: schemas/limits.py.
from joulestream.schemas.limits import (
    MAX_TEXT_LEN as MAX_TEXT_LEN,
)
from joulestream.schemas.limits import (
    MAX_TS_MS as MAX_TS_MS,
)
from joulestream.schemas.limits import (
    MIN_CREDITED_INTERVAL_MS as MIN_CREDITED_INTERVAL_MS,
)
from joulestream.schemas.limits import (
    MIN_INTENSITY_G_PER_KWH as MIN_INTENSITY_G_PER_KWH,
)
from joulestream.schemas.limits import (
    MIN_PUE as MIN_PUE,
)
from joulestream.schemas.limits import (
    MIN_TS_MS as MIN_TS_MS,
)
from joulestream.schemas.limits import (
    max_energy_j as max_energy_j,
)


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
            f"joulestream.limits.event_time_window)"
        )
    if window.max_ahead_ms is not None and value > now_ms + window.max_ahead_ms:
        raise ValueError(
            f"{name}={value} is {(value - now_ms) / 1000:.0f} s after this host's clock, more "
            f"than {window.max_ahead_ms} ms ahead"
        )


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
