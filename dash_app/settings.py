"""The dashboard's settings: one frozen object, read from the environment once (``from_env``),
passed to whatever needs it. Defaults fit the local stack."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from joulestream.schemas import defaults, limits, pricing

DEFAULT_CURRENCY = "EUR"
DEFAULT_PRICE_PER_KWH = 0.25
DEFAULT_SETTLED_AFTER_S = limits.DEFAULT_MAX_AGE_MS // 1000 + 86_400
"""The job's largest event age (``JOULESTREAM_MAX_EVENT_AGE_S``, 7 days) plus a day: for the
job's lag behind Kafka and for a rollup period of up to a day that started before the cut-off."""
"""A round figure for European business electricity, in the default currency per kWh: set the
real tariff with ``DASH_PRICE_PER_KWH``."""


class SettingsError(ValueError):
    """A setting in the environment that cannot be used; the message names it."""


@dataclass(frozen=True)
class DashSettings:
    """What the dashboard shows and how: the live refresh, when a run counts as stale, and the
    price of energy."""

    mongodb_uri: str = defaults.MONGODB_URI
    mongodb_database: str = defaults.MONGODB_DATABASE
    mongodb_username: str = ""
    mongodb_password: str = field(default="", repr=False)
    refresh_ms: int = 5_000
    """How often pages re-read their data, milliseconds."""
    stale_after_s: int = 300
    """A ``running`` run silent for this long is shown as stale and no longer counts as live
    (the job's ``JOULESTREAM_LOST_AFTER_S``, so both agree by default), seconds."""
    currency: str = DEFAULT_CURRENCY
    """ISO 4217 code (or any short label) the costs are shown in."""
    price_per_kwh: float = DEFAULT_PRICE_PER_KWH
    """Price of one kWh of measured energy, in ``currency``."""
    price_per_kwh_by_region: Mapping[str, float] = field(default_factory=dict)
    """Prices for some regions (as runs name them), overriding ``price_per_kwh`` there."""
    settled_after_s: int = DEFAULT_SETTLED_AFTER_S
    """A rollup whose period started this long ago or more (the cut-off taken back to the start
    of its UTC day) can no longer change: the job refuses events older than its
    ``JOULESTREAM_MAX_EVENT_AGE_S``. Their sum is kept between refreshes (``settled``); keep it
    above the job's largest event age plus its lag and its rollup period, seconds."""
    grid_kind: str = "average"
    """The grid series kind the "greenest" what-if prices with: the job's
    ``JOULESTREAM_GRID_KIND``, read from the same variable."""

    def price_of(self, region: object) -> float:
        """The price per kWh in ``region``."""
        return self.price_per_kwh_by_region.get(str(region), self.price_per_kwh)

    def cost(self, energy_j: float, region: object = None) -> float:
        """What ``energy_j`` costs in ``region``, in ``currency``."""
        return energy_j / pricing.J_PER_KWH * self.price_of(region)


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    text = env.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a number") from None
    if not value >= minimum or value == float("inf"):
        raise SettingsError(f"{name}={text!r} must be a finite number of at least {minimum:g}")
    return value


def region_prices(text: str, name: str = "DASH_PRICE_PER_KWH_BY_REGION") -> dict[str, float]:
    """``"SE=0.08, DE=0.32"`` → ``{"SE": 0.08, "DE": 0.32}``."""
    prices: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        region, sep, price = item.partition("=")
        if not sep or not region.strip():
            raise SettingsError(f"{name}: {item!r} is not REGION=PRICE")
        prices[region.strip()] = _number({name: price}, name, 0.0, 0.0)
    return prices


def from_env(env: Mapping[str, str] | None = None) -> DashSettings:
    """The settings the environment names (``os.environ`` by default); a bad value raises
    ``SettingsError`` naming the variable."""
    e = os.environ if env is None else env
    d = DashSettings()
    currency = e.get("DASH_CURRENCY", d.currency).strip()
    if not currency or len(currency) > 8:
        raise SettingsError(f"DASH_CURRENCY={currency!r} must be 1 to 8 characters")
    grid_kind = e.get("JOULESTREAM_GRID_KIND", d.grid_kind)
    if grid_kind not in limits.GRID_INTENSITY_KINDS:
        raise SettingsError(
            f"JOULESTREAM_GRID_KIND={grid_kind!r} must be one of {limits.GRID_INTENSITY_KINDS}"
        )
    return DashSettings(
        mongodb_uri=e.get("MONGODB_URI", d.mongodb_uri),
        mongodb_database=e.get("MONGODB_DATABASE", d.mongodb_database),
        mongodb_username=e.get("MONGODB_USERNAME", ""),
        mongodb_password=e.get("MONGODB_PASSWORD", ""),
        refresh_ms=int(_number(e, "DASH_REFRESH_MS", d.refresh_ms, 500)),
        stale_after_s=int(_number(e, "DASH_STALE_AFTER_S", d.stale_after_s, 10)),
        currency=currency,
        price_per_kwh=_number(e, "DASH_PRICE_PER_KWH", d.price_per_kwh, 0.0),
        price_per_kwh_by_region=region_prices(e.get("DASH_PRICE_PER_KWH_BY_REGION", "")),
        settled_after_s=int(_number(e, "DASH_SETTLED_AFTER_S", d.settled_after_s, 3_600)),
        grid_kind=grid_kind,
    )
