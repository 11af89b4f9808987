"""WattTime's API v3 signals as grid intensity events.

Reads the JSON of ``/v3/historical`` and ``/v3/forecast`` (``{"data": [{"point_time",
"value"}], "meta": {...}}``) and of ``/v3/forecast/historical`` (``"data": [{"generated_at",
"forecast": [...]}]``). ``meta`` says what the values are: ``region`` (the zone unless one is
given), ``signal_type`` (``co2_moer``, the marginal operating emissions rate: ``kind``
'marginal'; ``co2_aoer``, the average: 'average'; other signals are not carbon intensities),
``units`` (``lbs_co2_per_mwh``, converted at 453.59237 g per lb: x 0.45359237 to g/kWh) and
``data_point_period_seconds`` (each point's period, from its ``point_time``). A forecast's
``generated_at`` is its publication time; historical data has none, so the caller gives it.
WattTime's rates are CO2 only.
"""

from functools import partial
from typing import Any

from joulestream.grid.events import GridIntensity
from joulestream.grid.parsing import Parsed, SourceFormatError, as_list, as_object, number, utc_ms

SOURCE = "WattTime"
KINDS = {"co2_moer": "marginal", "co2_aoer": "average"}
G_PER_KWH = {"lbs_co2_per_mwh": 0.45359237}
"""Grams per kWh in one unit: 1 lb = 453.59237 g (exact, by definition), 1 MWh = 1000 kWh."""


def read(payload: Any, published_at_ms: int, zone: str | None = None) -> Parsed:  # noqa: ANN401
    """The events of one response. ``zone``: the zone to publish under (default: ``meta.region``).
    ``published_at_ms``: for points without a ``generated_at`` (when the response was fetched)."""
    document = as_object(payload, "the response")
    meta = as_object(document.get("meta"), "meta")
    signal = meta.get("signal_type")
    if signal not in KINDS:
        raise SourceFormatError(
            f"meta.signal_type {signal!r} is not a carbon intensity ({', '.join(KINDS)})"
        )
    units = meta.get("units")
    if units not in G_PER_KWH:
        raise SourceFormatError(f"meta.units {units!r}: only {', '.join(G_PER_KWH)} is converted")
    period_s = meta.get("data_point_period_seconds")
    if isinstance(period_s, bool) or not isinstance(period_s, int) or period_s <= 0:
        raise SourceFormatError(
            f"meta.data_point_period_seconds must be a positive integer, got {period_s!r}"
        )
    name = zone or meta.get("region")
    if not isinstance(name, str) or not name:
        raise SourceFormatError("meta.region is missing: give the zone")

    def event(point: object, generated_at: object) -> GridIntensity:
        if not isinstance(point, dict):
            raise ValueError(f"expected a JSON object, got {type(point).__name__}")
        start_ms = utc_ms(point.get("point_time"), "point_time")
        imputed = point.get("imputed_data_used")
        if generated_at is not None:
            estimated: bool | None = True  # a forecast
        else:
            estimated = imputed if isinstance(imputed, bool) else None
        return GridIntensity(
            zone=name,
            start_ms=start_ms,
            end_ms=start_ms + period_s * 1000,
            intensity_g_per_kwh=number(point.get("value"), "value") * G_PER_KWH[units],
            kind=KINDS[signal],
            source=f"{SOURCE} ({signal})",
            published_at_ms=(
                published_at_ms if generated_at is None else utc_ms(generated_at, "generated_at")
            ),
            estimated=estimated,
        )

    parsed = Parsed()
    for index, item in enumerate(as_list(document.get("data"), "data")):
        if isinstance(item, dict) and "forecast" in item:  # /v3/forecast/historical
            points = as_list(item["forecast"], f"data[{index}].forecast")
            for p, point in enumerate(points):
                generated_at = item.get("generated_at")
                parsed.add(f"data[{index}].forecast[{p}]", partial(event, point, generated_at))
        else:
            parsed.add(f"data[{index}]", partial(event, item, meta.get("generated_at")))
    return parsed
