"""Electricity Maps' carbon-intensity history as grid intensity events.

Reads the JSON of ``GET /v3/carbon-intensity/history`` (the last 24 hours: ``{"zone": ...,
"history": [...]}``) and of ``/v3/carbon-intensity/past`` and ``past-range`` (the same entries
under ``"data"``). Each entry has ``carbonIntensity`` (g CO2e/kWh, the zone's consumption-based
average: ``kind`` 'average'), ``datetime`` (the start of its period), ``updatedAt`` (when it was
last computed: ``published_at_ms``), ``isEstimated``, ``emissionFactorType`` ('lifecycle' or
'direct', kept in the source's name) and, in newer responses, ``temporalGranularity``
('hourly' when absent). An entry without a value (``carbonIntensity`` null: the hour has no
data) is a problem, not an event.
"""

from functools import partial
from typing import Any

from joulestream.grid.events import GridIntensity
from joulestream.grid.parsing import Parsed, SourceFormatError, as_list, as_object, number, utc_ms

SOURCE = "Electricity Maps"
GRANULARITY_MS = {
    "5_minutes": 5 * 60_000,
    "15_minutes": 15 * 60_000,
    "hourly": 3_600_000,
    "daily": 24 * 3_600_000,
}
"""The period of an entry by ``temporalGranularity``; the API's coarser ones (monthly, yearly)
are the yearly table's business, not the stream's."""


def read(payload: Any, published_at_ms: int, zone: str | None = None) -> Parsed:  # noqa: ANN401
    """The events of one response. ``zone``: the zone to publish them under (e.g. the table's
    'aws:us-east-1' for Electricity Maps' 'US-MIDA-PJM'), else the response's own.
    ``published_at_ms``: for entries without ``updatedAt`` (the time the response was fetched)."""
    document = as_object(payload, "the response")
    key = "history" if "history" in document else "data"
    if key not in document:
        raise SourceFormatError(
            "the response has neither 'history' (/v3/carbon-intensity/history) nor 'data' "
            "(/v3/carbon-intensity/past-range): is it Electricity Maps' carbon intensity?"
        )
    entries = as_list(document[key], key)
    parsed = Parsed()
    for index, raw in enumerate(entries):
        where = f"{key}[{index}]"
        parsed.add(where, partial(_event, raw, document, published_at_ms, zone))
    return parsed


def _event(
    raw: object, document: dict[str, Any], published_at_ms: int, zone: str | None
) -> GridIntensity:
    if not isinstance(raw, dict):
        raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
    granularity = raw.get("temporalGranularity", document.get("temporalGranularity", "hourly"))
    if granularity not in GRANULARITY_MS:
        raise ValueError(
            f"temporalGranularity {granularity!r} is not one of {', '.join(GRANULARITY_MS)}"
        )
    if raw.get("carbonIntensity") is None:
        raise ValueError("carbonIntensity is null: the source has no value for this period")
    start_ms = utc_ms(raw.get("datetime"), "datetime")
    updated = raw.get("updatedAt")
    factor = raw.get("emissionFactorType")
    estimated = raw.get("isEstimated")
    return GridIntensity(
        zone=zone or raw.get("zone") or document.get("zone"),  # type: ignore[arg-type]
        start_ms=start_ms,
        end_ms=start_ms + GRANULARITY_MS[granularity],
        intensity_g_per_kwh=number(raw["carbonIntensity"], "carbonIntensity"),
        kind="average",
        source=f"{SOURCE} ({factor})" if factor else SOURCE,
        published_at_ms=published_at_ms if updated is None else utc_ms(updated, "updatedAt"),
        estimated=estimated if isinstance(estimated, bool) else None,
    )
