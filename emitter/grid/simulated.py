"""A simulated diurnal grid: deterministic, seeded hourly intensities per zone, for the demo.

Not a model of any grid. Each zone's yearly figure from the carbon-intensity table
(``schemas.intensity``; ``WORLD``'s for a zone not in it) is shaped by the hour of the day: an
evening peak (+25 % at 19:00), a midday solar dip (down to -20 % at 12:00, daylight 06:00 to
18:00) and +-3 % noise. Each zone's day is shifted by a seeded 0 to 5 hours so that zones
differ. A period's value depends only on the seed, the zone and the period's start, so two
calls over overlapping ranges agree; values are rounded to 0.1 g.
"""

import math
import random
from collections.abc import Iterable

from joulestream.grid.events import GridIntensity
from joulestream.schemas import intensity
from joulestream.schemas.limits import MAX_INTENSITY_G_PER_KWH

SOURCE = "simulated"
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
PEAK_HOUR = 19.0
PEAK_SHARE = 0.25
SOLAR_SHARE = 0.20
NOISE_SHARE = 0.03
MAX_SHIFT_H = 5


def shape(hour: float) -> float:
    """The factor on the yearly figure at ``hour`` of the (zone's) day, noise aside."""
    evening = PEAK_SHARE * math.cos(2 * math.pi * (hour - PEAK_HOUR) / 24)
    solar = SOLAR_SHARE * max(0.0, math.sin(math.pi * (hour - 6) / 12)) if 6 <= hour <= 18 else 0.0
    return 1.0 + evening - solar


def diurnal(
    zones: Iterable[str],
    start_ms: int,
    hours: int,
    seed: int = 42,
    period_ms: int = HOUR_MS,
    table: dict[str, intensity.Intensity] | None = None,
) -> list[GridIntensity]:
    """``hours`` hours of periods of ``period_ms`` for each zone, from ``start_ms`` floored to
    a period boundary; each is published at its period's start (as a day-ahead figure would
    be known by then)."""
    rows = intensity.load() if table is None else table
    first_ms = start_ms - start_ms % period_ms
    count = hours * HOUR_MS // period_ms
    events = []
    for zone in zones:
        base = (rows.get(zone) or rows[intensity.WORLD]).intensity_g_per_kwh
        # Seeded on purpose (noqa S311): a simulated feed is reproducible, not secret.
        shift_h = random.Random(f"{seed}:{zone}:shift").uniform(0, MAX_SHIFT_H)  # noqa: S311
        for n in range(count):
            period_start_ms = first_ms + n * period_ms
            hour = ((period_start_ms % DAY_MS) / HOUR_MS - shift_h) % 24
            noise = random.Random(f"{seed}:{zone}:{period_start_ms}").uniform(-1, 1)  # noqa: S311
            value = base * (shape(hour) + NOISE_SHARE * noise)
            events.append(
                GridIntensity(
                    zone=zone,
                    start_ms=period_start_ms,
                    end_ms=period_start_ms + period_ms,
                    intensity_g_per_kwh=round(min(max(value, 0.0), MAX_INTENSITY_G_PER_KWH), 1),
                    kind="average",
                    source=SOURCE,
                    published_at_ms=period_start_ms,
                )
            )
    return events
