"""The Carbon Intensity API of Great Britain's electricity system operator (National Grid
ESO, now NESO; api.carbonintensity.org.uk) as grid intensity events.

Reads the three response shapes its documentation gives:

- national, ``/intensity``, ``/intensity/{from}/{to}``, ``/intensity/date/...``, ``fw24h``...:
  ``{"data": [{"from", "to", "intensity": {"forecast", "actual", "index"}}]}``; zone 'GB'.
  ``actual`` (null until the half hour is past, and for some past ones) wins over
  ``forecast``; ``estimated`` says which was used;
- regional, every region per period, ``/regional``, ``/regional/intensity/{from}/{to}``...:
  ``{"data": [{"from", "to", "regions": [{"regionid", "shortname", "intensity": {...}}]}]}``;
- one region, ``/regional/regionid/{id}``, ``/regional/postcode/{postcode}``,
  ``/regional/intensity/{from}/{to}/regionid/{id}``...: ``{"data": {"regionid", "shortname",
  "data": [{"from", "to", "intensity"}]}}`` (the documentation shows ``data`` as a list of
  that one object; both are read).

Regional figures are forecasts only. A region's zone is ``GB-<regionid>`` unless one is given
(to match the runs' region). The API gives no publication time: the caller says when the
response was fetched. The figures are averages of the generation mix, g CO2/kWh.
"""

from functools import partial
from typing import Any

from joulestream.grid.events import GridIntensity
from joulestream.grid.parsing import Parsed, SourceFormatError, as_list, as_object, number, utc_ms

SOURCE = "Carbon Intensity API (GB)"
NATIONAL_ZONE = "GB"


def read(
    payload: Any,  # noqa: ANN401
    published_at_ms: int,
    zone: str | None = None,
    region_id: int | None = None,
) -> Parsed:
    """The events of one response. ``zone``: the zone to publish under (default 'GB', or
    'GB-<regionid>' for a region). ``region_id``: keep only that region of a regional
    response. ``published_at_ms``: when the response was fetched."""
    document = as_object(payload, "the response")
    if "data" not in document:
        raise SourceFormatError(
            "the response has no 'data': is it the Carbon Intensity API's? (an error response "
            f"reads {document.get('error')!r})"
        )
    data = document["data"]
    parsed = Parsed()
    if isinstance(data, dict):  # one region, its periods under data.data
        _region(data, "data", parsed, published_at_ms, zone, region_id)
        return parsed
    for index, item in enumerate(as_list(data, "data")):
        where = f"data[{index}]"
        item = as_object(item, where)
        if "regions" in item:  # every region for one period
            for r, region in enumerate(as_list(item["regions"], f"{where}.regions")):
                region = as_object(region, f"{where}.regions[{r}]")
                if region_id is None or region.get("regionid") == region_id:
                    period = dict(region, **{k: item.get(k) for k in ("from", "to")})
                    parsed.add(
                        f"{where}.regions[{r}]",
                        partial(_event, period, published_at_ms, _zone(zone, period)),
                    )
        elif "data" in item:  # one region, as the documentation shows it
            _region(item, where, parsed, published_at_ms, zone, region_id)
        else:  # national
            parsed.add(where, partial(_event, item, published_at_ms, zone or NATIONAL_ZONE))
    return parsed


def _region(
    region: dict[str, Any],
    where: str,
    parsed: Parsed,
    published_at_ms: int,
    zone: str | None,
    region_id: int | None,
) -> None:
    if region_id is not None and region.get("regionid") != region_id:
        return
    name = _zone(zone, region)
    for index, period in enumerate(as_list(region.get("data"), f"{where}.data")):
        parsed.add(f"{where}.data[{index}]", partial(_event, period, published_at_ms, name))


def _zone(zone: str | None, region: dict[str, Any]) -> str:
    if zone is not None:
        return zone
    if region.get("regionid") is None:
        raise SourceFormatError("a regional entry without 'regionid': give the zone")
    return f"{NATIONAL_ZONE}-{region['regionid']}"


def _event(period: object, published_at_ms: int, zone: str) -> GridIntensity:
    if not isinstance(period, dict):
        raise ValueError(f"expected a JSON object, got {type(period).__name__}")
    intensity = period.get("intensity")
    if not isinstance(intensity, dict):
        raise ValueError(f"intensity must be an object with forecast and actual, got {intensity!r}")
    actual = intensity.get("actual")
    value = actual if actual is not None else intensity.get("forecast")
    if value is None:
        raise ValueError("intensity has neither an actual nor a forecast value")
    return GridIntensity(
        zone=zone,
        start_ms=utc_ms(period.get("from"), "from"),
        end_ms=utc_ms(period.get("to"), "to"),
        intensity_g_per_kwh=number(value, "actual" if actual is not None else "forecast"),
        kind="average",
        source=SOURCE,
        published_at_ms=published_at_ms,
        estimated=actual is None,
    )
