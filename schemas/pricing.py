"""The unit constant and the CO2e formula every part prices with.

CO2e of an energy is ``energy_j * pue * intensity_g_per_kwh / J_PER_KWH`` grams, in this order of
operations everywhere (the job's SQL, the dashboard's what-if, the trainer's summary and the
test fleets compute the same doubles). The job writes the same expression in SQL
(``flink_jobs/carbon.py``'s ``co2e_sql``) from this constant.
"""

J_PER_KWH = 3_600_000.0
"""Joules in a kilowatt-hour."""


def co2e_g(energy_j: float, pue: float, intensity_g_per_kwh: float) -> float:
    """Grams of CO2e of ``energy_j`` measured at the IT equipment, in a facility of ``pue``,
    on a grid of ``intensity_g_per_kwh``."""
    return energy_j * pue * intensity_g_per_kwh / J_PER_KWH
