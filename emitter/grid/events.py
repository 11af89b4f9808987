"""``GridIntensity``: one period of one zone's grid carbon intensity, checked when it is built.

Maps to one record of ``schemas/grid_intensity.avsc`` (topic ``grid.intensity``, Kafka key =
zone). A bad field raises ``ValueError`` naming it, so nothing invalid is sent. The bounds are
``schemas/limits.py``'s: intensity finite in [0, 2000] g/kWh, times in UTC epoch milliseconds
between 2000 and 9999, a period of one minute to one day. Event times are not checked against
this host's clock: a feed sends forecasts ahead of time and back-fills old series on purpose.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joulestream import limits
from joulestream.schemas.limits import (
    GRID_INTENSITY_KINDS,
    MAX_GRID_PERIOD_MS,
    MAX_INTENSITY_G_PER_KWH,
    MAX_TEXT_LEN,
    MIN_GRID_PERIOD_MS,
    MIN_INTENSITY_G_PER_KWH,
)

SCHEMA_VERSION = 1
FIELDS = (
    "schema_version", "zone", "start_ms", "end_ms", "intensity_g_per_kwh", "kind", "source",
    "published_at_ms", "estimated",
)  # fmt: skip
"""The record's fields, in the schema's order."""


def _text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    if len(value) > MAX_TEXT_LEN:
        raise ValueError(f"{name} is {len(value)} characters, at most {MAX_TEXT_LEN}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{name} is not valid text: {exc.reason}") from exc


@dataclass(frozen=True, slots=True, kw_only=True)
class GridIntensity:
    """A zone's intensity over ``[start_ms, end_ms)`` as ``source`` published it."""

    zone: str
    """As the intensity table and the events' ``region`` spell it, e.g. 'FR' or 'aws:us-east-1'."""
    start_ms: int
    """Start of the period, UTC epoch milliseconds (inclusive)."""
    end_ms: int
    """End of the period, UTC epoch milliseconds (exclusive)."""
    intensity_g_per_kwh: float
    """Grams CO2e per kWh."""
    source: str
    """Who published it, e.g. 'Electricity Maps (lifecycle)'."""
    published_at_ms: int
    """When the source published or last revised it, UTC epoch milliseconds."""
    kind: str = "average"
    """One of ``GRID_INTENSITY_KINDS``: 'average' or 'marginal'."""
    estimated: bool | None = None
    """True for a forecast or an estimate, False for a figure from measured generation, None
    when the source does not say."""

    def __post_init__(self) -> None:
        _text("zone", self.zone)
        _text("source", self.source)
        for name in ("start_ms", "end_ms", "published_at_ms"):
            limits.check_ts_ms(name, getattr(self, name), limits.ANY_TIME)
        period_ms = self.end_ms - self.start_ms
        if not MIN_GRID_PERIOD_MS <= period_ms <= MAX_GRID_PERIOD_MS:
            raise ValueError(
                f"the period [start_ms={self.start_ms}, end_ms={self.end_ms}) is {period_ms} ms "
                f"long, not within [{MIN_GRID_PERIOD_MS}, {MAX_GRID_PERIOD_MS}] (a minute to a "
                "day)"
            )
        limits.check_range(
            "intensity_g_per_kwh",
            self.intensity_g_per_kwh,
            MIN_INTENSITY_G_PER_KWH,
            MAX_INTENSITY_G_PER_KWH,
        )
        if self.kind not in GRID_INTENSITY_KINDS:
            raise ValueError(f"kind must be one of {GRID_INTENSITY_KINDS}, got {self.kind!r}")
        if self.estimated is not None and not isinstance(self.estimated, bool):
            raise ValueError(f"estimated must be None, True or False, got {self.estimated!r}")

    @property
    def key(self) -> str:
        """The Kafka message key: one zone's periods stay in one partition, in order."""
        return self.zone

    def to_record(self) -> dict[str, Any]:
        """The Avro record (``schemas/grid_intensity.avsc``)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "zone": self.zone,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "intensity_g_per_kwh": float(self.intensity_g_per_kwh),
            "kind": self.kind,
            "source": self.source,
            "published_at_ms": self.published_at_ms,
            "estimated": self.estimated,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "GridIntensity":
        """The checked event of a record; ``ValueError`` says what is wrong."""
        missing = [name for name in FIELDS if name not in record and name != "estimated"]
        if missing:
            raise ValueError(f"a grid intensity record needs {', '.join(missing)}")
        values: dict[str, Any] = {name: record.get(name) for name in FIELDS[1:]}
        return cls(**values)
