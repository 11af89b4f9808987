"""What the run accounting (``flink_jobs/java``: ``RunAccounting``) registers, and the views that
price it: the pricing columns of a row, its CO2e per component, and the priced windows and late
parts the outputs read."""

from joulestream.flink_jobs.carbon import Pricing, co2e_sql
from joulestream.flink_jobs.settings import JobSettings
from joulestream.schemas import documents

# The views RunAccounting (flink_jobs/java) registers.
RUN_TOTALS = "run_totals"
WINDOW_TOTALS = "window_totals"
EPOCH_TOTALS = "epoch_totals"
LATE_MEASUREMENTS = "late_measurements"
LATE_PARTS = "late_parts"
INVALID_RECORDS = "invalid_records"
# The views priced here.
PRICED_WINDOWS = "priced_windows"
PRICED_LATE = "priced_late_events"

COMPONENTS = documents.ENERGY
"""Energy per component and in all, as the run accounting's views and the documents name it."""
UTC_ISO = "'yyyy-MM-dd''T''HH:mm:ss''Z'''"
"""``DATE_FORMAT``'s pattern of the dates in the documents' ``_id``."""


def co2e_name(energy: str) -> str:
    """``gpu_energy_j`` → ``gpu_co2e_g``."""
    return energy.replace("energy_j", "co2e_g")


def priced(pricing: Pricing, region: str, pue: str, intensity: str) -> str:
    """The pricing columns for a row with ``region`` and the run's own PUE and intensity."""
    return f"""{pricing.pue_sql(region, pue)} AS pue,
    {pricing.intensity_sql(region, intensity)} AS intensity_g_per_kwh,
    {pricing.source_sql(region, intensity)} AS intensity_source,
    {pricing.fallback_sql(region, intensity)} AS intensity_fallback"""


def co2e(energy: str) -> str:
    """CO2e of a component of a document: the energy of intervals that carried their own
    intensity is priced with it, the energy the grid series priced with its periods, the rest
    with the run's (``docs/documents.md``). With neither this is exactly ``co2e_sql`` of the
    whole energy (adding or subtracting 0.0 changes no double)."""
    own = co2e_sql(
        f"({energy}_x_interval_intensity + {energy}_x_grid_intensity)",
        "pue",
        "CAST(1.0 AS DOUBLE)",
    )
    rest = co2e_sql(f"({energy} - {energy}_interval - {energy}_grid)", "pue", "intensity_g_per_kwh")
    return f"{rest} + {own}"


def part_co2e_columns() -> str:
    """CO2e of the energy priced by the grid series and by the intervals' own intensity, as
    columns of a SELECT over a priced row (the rollups' breakdown by pricing source)."""
    one = "CAST(1.0 AS DOUBLE)"
    return (
        f"  {co2e_sql('energy_j_x_grid_intensity', 'pue', one)} AS grid_co2e_g,\n"
        f"  {co2e_sql('energy_j_x_interval_intensity', 'pue', one)} AS interval_co2e_g"
    )


def co2e_columns() -> str:
    """Every component's CO2e, as columns of a SELECT over a priced row."""
    return ",\n".join(f"  {co2e(c)} AS {co2e_name(c)}" for c in COMPONENTS)


def windows_view(settings: JobSettings, pricing: Pricing) -> str:
    """Per-run tumbling event-time windows over the on-time measurements, priced with the run's
    ``run_started`` (the run accounting sends a window again when that arrives). A window is
    stored while it fills and complete once its run's watermark has passed its end, the run
    has finished or it is lost: it never waits for other runs' traffic."""
    window_ms = settings.run_window_s * 1000
    return f"""CREATE TEMPORARY VIEW {PRICED_WINDOWS} AS
SELECT
  CONCAT(run_id, '/', DATE_FORMAT(TO_TIMESTAMP_LTZ(window_start_ms, 3), {UTC_ISO})) AS _id,
  run_id, window_start, window_end, events, `epoch`, samples, tokens, loss, accuracy,
  {", ".join(COMPONENTS)},
  pue, intensity_g_per_kwh, intensity_source, intensity_fallback, energy_j_interval,
  energy_j_grid, grid_intensity_g_per_kwh, grid_source,
{co2e_columns()},
{part_co2e_columns()},
  user_id, `model`, region, window_start_ms, priced, repriced
FROM (
  SELECT *,
    CAST(TO_TIMESTAMP_LTZ(window_start_ms, 3) AS TIMESTAMP(3)) AS window_start,
    CAST(TO_TIMESTAMP_LTZ(window_start_ms + {window_ms}, 3) AS TIMESTAMP(3)) AS window_end,
    {priced(pricing, "region", "event_pue", "event_intensity")}
  FROM {WINDOW_TOTALS}
)"""


def priced_late_view(pricing: Pricing) -> str:
    """The late measurements' parts of the rollups, priced like their run."""
    return f"""CREATE TEMPORARY VIEW {PRICED_LATE} AS
SELECT *,
  {priced(pricing, "region", "event_pue", "event_intensity")}
FROM {LATE_PARTS}"""
