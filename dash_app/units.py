"""Units a person reads (kWh, kg CO2e, W) and everyday equivalents, from the SI values stored.

Equivalence factors and their sources:
- A car: 251 g CO2 per km, from the U.S. EPA's "Tailpipe Greenhouse Gas Emissions from a Typical
  Passenger Vehicle" (EPA-420-F-23-014, June 2023): 8,887 g CO2 per gallon of gasoline at
  22.0 miles per gallon, i.e. 8,887 / 22.0 / 1.609344 g per km.
- A kettle: 0.093 kWh to bring one litre of water from 20 °C to the boil, from the specific heat
  of water (4.186 J per g and K) * 1,000 g * 80 K = 334,880 J; a real kettle needs somewhat more.
"""

J_PER_KWH = 3_600_000.0
J_PER_WH = 3_600.0
CAR_CO2E_G_PER_KM = 8_887.0 / 22.0 / 1.609344
KETTLE_LITRE_J = 4.186 * 1_000.0 * 80.0


def kwh(energy_j: float) -> float:
    return energy_j / J_PER_KWH


def _scaled(value: float, steps: list[tuple[float, str]], digits: int = 3) -> str:
    """``value`` in the largest unit of ``steps`` (factor, name; ascending) it reaches, with
    ``digits`` significant digits."""
    factor, name = steps[0]
    for step_factor, step_name in steps:
        if abs(value) >= step_factor:
            factor, name = step_factor, step_name
    scaled = value / factor
    return f"{scaled:,.{max(digits - len(str(int(abs(scaled)))), 0)}f} {name}"


def energy(energy_j: float) -> str:
    """``3_600_000.0`` → ``"1.00 kWh"``; below a watt-hour in joules, large amounts in MWh."""
    return _scaled(
        energy_j, [(1.0, "J"), (J_PER_WH, "Wh"), (J_PER_KWH, "kWh"), (1_000 * J_PER_KWH, "MWh")]
    )


def co2e(co2e_g: float) -> str:
    """``1500.0`` → ``"1.50 kg CO2e"``; tonnes from a tonne; milligrams only below 0.01 g, where
    grams would read 0.00."""
    if 0 < abs(co2e_g) < 0.01:
        return _scaled(co2e_g, [(0.001, "mg CO2e")])
    return _scaled(co2e_g, [(1.0, "g CO2e"), (1_000.0, "kg CO2e"), (1_000_000.0, "t CO2e")])


def power(power_w: float) -> str:
    """``1250.0`` → ``"1.25 kW"``."""
    return _scaled(power_w, [(1.0, "W"), (1_000.0, "kW"), (1_000_000.0, "MW")])


def intensity(intensity_g_per_kwh: float) -> str:
    return f"{intensity_g_per_kwh:,.0f} g CO2e/kWh"


def per_unit(value: float | None, unit: str) -> str:
    """A small per-sample or per-token figure, in scientific notation when tiny."""
    if value is None:
        return "-"
    return f"{value:.3g} {unit}"


def car_km(co2e_g: float) -> float:
    return co2e_g / CAR_CO2E_G_PER_KM


def kettles(energy_j: float) -> float:
    return energy_j / KETTLE_LITRE_J


def equivalents(energy_j: float, co2e_g: float) -> str:
    """Everyday terms: ``"≈ 4.0 km by car · ≈ 11 litres of water boiled"``."""
    return f"≈ {_count(car_km(co2e_g))} km by car · ≈ {_count(kettles(energy_j))} litres boiled"


def _count(value: float) -> str:
    return f"{value:,.1f}" if value < 10 else f"{value:,.0f}"


def method(name: str) -> str:
    """A measurement method as stored, flagged when it is a model rather than a meter (the
    tracker names its estimates ``*_model``)."""
    return f"{name} (estimate)" if name.endswith("_model") else name
