"""Units a person reads (kWh, kg CO2e, W) and everyday equivalents, from the SI values stored.

Equivalence factors and their sources:
- A car: 251 g CO2 per km, from the U.S. EPA's "Tailpipe Greenhouse Gas Emissions from a Typical
  Passenger Vehicle" (EPA-420-F-23-014, June 2023): 8,887 g CO2 per gallon of gasoline at
  22.0 miles per gallon, i.e. 8,887 / 22.0 / 1.609344 g per km.
- A kettle: 0.093 kWh to bring one litre of water from 20 °C to the boil, from the specific heat
  of water (4.186 J per g and K) * 1,000 g * 80 K = 334,880 J; a real kettle needs somewhat more.
"""

import math
import re

from joulestream.schemas.pricing import J_PER_KWH

__all__ = ["J_PER_KWH"]
J_PER_WH = 3_600.0
CAR_CO2E_G_PER_KM = 8_887.0 / 22.0 / 1.609344
KETTLE_LITRE_J = 4.186 * 1_000.0 * 80.0
# Below these an everyday equivalent says nothing a person can picture ("≈ 0.0 km by car").
MIN_CAR_M = 10.0
MIN_KETTLE_LITRES = 0.1

ENERGY_UNITS = [
    (1e-3, "mJ"),
    (1.0, "J"),
    (J_PER_WH, "Wh"),
    (J_PER_KWH, "kWh"),
    (1_000 * J_PER_KWH, "MWh"),
]
CO2E_UNITS = [(1e-6, "µg"), (1e-3, "mg"), (1.0, "g"), (1_000.0, "kg"), (1_000_000.0, "t")]
POWER_UNITS = [(1.0, "W"), (1_000.0, "kW"), (1_000_000.0, "MW")]


def kwh(energy_j: float) -> float:
    return energy_j / J_PER_KWH


def number(value: float, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits (at least its whole part), thousands
    separated, never in scientific notation: ``0.0783``, ``7.20``, ``1,234``."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(digits - 1 - magnitude, 0)
    if abs(round(value, decimals)) >= 10 ** (magnitude + 1):  # 9.996 rounds to 10.00
        decimals = max(decimals - 1, 0)
    return f"{value:,.{decimals}f}"


def unit_for(value: float, steps: list[tuple[float, str]]) -> tuple[float, str]:
    """The largest (factor, name) of ``steps`` (ascending) that ``value`` reaches, else the
    smallest: the unit a person reads ``value`` in."""
    factor, name = steps[0]
    for step_factor, step_name in steps:
        if abs(value) >= step_factor:
            factor, name = step_factor, step_name
    return factor, name


def _scaled(value: float, steps: list[tuple[float, str]], suffix: str = "") -> str:
    if value == 0:
        return f"0 {next((n for f, n in steps if f == 1.0), steps[0][1])}{suffix}"
    factor, name = unit_for(value, steps)
    return f"{number(value / factor)} {name}{suffix}"


def energy(energy_j: float) -> str:
    """``3_600_000.0`` → ``"1.00 kWh"``; mJ, J, Wh, kWh or MWh, whichever it reaches."""
    return _scaled(energy_j, ENERGY_UNITS)


def co2e(co2e_g: float) -> str:
    """``1500.0`` → ``"1.50 kg CO2e"``; µg, mg, g, kg or t, whichever it reaches."""
    return _scaled(co2e_g, CO2E_UNITS, " CO2e")


def power(power_w: float) -> str:
    """``1250.0`` → ``"1.25 kW"``."""
    return _scaled(power_w, POWER_UNITS)


def intensity(intensity_g_per_kwh: float) -> str:
    return f"{intensity_g_per_kwh:,.0f} g CO2e/kWh"


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``1 run``, ``2 runs``, ``1,000 runs``."""
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def duration(seconds: float) -> str:
    """``42`` → ``"42 s"``, ``754`` → ``"12 min 34 s"``, ``3_900`` → ``"1 h 05 min"``,
    ``183_600`` → ``"2 d 3 h"``."""
    whole = max(round(seconds), 0)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def money(amount: float, currency: str) -> str:
    """``1234.5`` → ``"1,234.50 EUR"``; a cost above zero that rounds to nothing is
    ``"< 0.01 EUR"``."""
    if 0 < amount < 0.005:
        return f"< 0.01 {currency}"
    return f"{amount:,.2f} {currency}"


def per_unit(value: float | None, kind: str) -> str:
    """A per-sample or per-token figure (``kind`` ``"energy"`` or ``"co2e"``) in the unit it
    reaches; ``"-"`` when there is none."""
    if value is None:
        return "-"
    return energy(value) if kind == "energy" else co2e(value)


def car_km(co2e_g: float) -> float:
    return co2e_g / CAR_CO2E_G_PER_KM


def kettles(energy_j: float) -> float:
    return energy_j / KETTLE_LITRE_J


def equivalents(energy_j: float, co2e_g: float) -> str:
    """Everyday terms, each only when it is large enough to picture:
    ``"≈ 4.0 km by car · ≈ 11 litres boiled"``, ``"≈ 300 m by car"``, or ``""``."""
    parts = []
    km = car_km(co2e_g)
    if km * 1000 >= MIN_CAR_M:
        parts.append(f"≈ {_count(km)} km by car" if km >= 1 else f"≈ {km * 1000:,.0f} m by car")
    litres = kettles(energy_j)
    if litres >= MIN_KETTLE_LITRES:
        parts.append(f"≈ {_count(litres)} litres boiled")
    return " · ".join(parts)


def _count(value: float) -> str:
    return f"{value:,.1f}" if value < 10 else f"{value:,.0f}"


# The tracker names its estimates ``*_model`` (a TDP, RAM or utilisation model, not a meter);
# other writers of the topic say ``estimate`` or ``estimated`` (``ram_methods: ["estimate"]``).
# One pattern for Python and for the server's ``$regex`` (``data.flagged_runs``).
ESTIMATE_PATTERN = r"_model$|estimat"


def is_estimate(method_name: str) -> bool:
    """Whether a measurement method is an estimate (``ESTIMATE_PATTERN``)."""
    return re.search(ESTIMATE_PATTERN, method_name) is not None


def method(name: str) -> str:
    """A measurement method as stored, flagged when it is a model rather than a meter (a name
    that says so already is left as it is)."""
    return f"{name} (estimate)" if is_estimate(name) and "estimat" not in name else name
