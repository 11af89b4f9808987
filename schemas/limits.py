"""The bounds every event must respect, part of the contract: the emitter refuses an event
outside them when it is built (``joulestream.limits``), and the Flink job sends any record outside
them to the dead letters with the reason (``flink_jobs.checks``). One home for the numbers;
the reason for each is beside it. All bounds are inclusive; text lengths count characters.
"""

# Text, characters.
MAX_TEXT_LEN = 256
"""Identifiers and labels: run_id, user_id, project, model, region, dataset, framework, host,
cpu_model, a GPU's uuid and model, method names, hyper-parameter names. Generous for a UUID
(36), a host name (DNS: 253) or a model name, far from a pasted blob."""
MAX_REASON_LEN = 1024
"""Free text: run_finished.reason (an error message)."""
MAX_HYPERPARAMETER_VALUE_LEN = 1024
"""One hyper-parameter value (text): room for a list of layer sizes, not for a config file."""
MAX_HYPERPARAMETERS = 256
"""Hyper-parameters per run_started."""

# Size.
MAX_EVENT_SIZE_BYTES = 512 * 1024
"""Encoded Avro size of one event: half of Kafka's default 1 MB message limit, so that neither
the producer nor the broker ever refuses an event that was accepted at the emitter."""

# Time, UTC epoch milliseconds.
MIN_TS_MS = 946_684_800_000
"""2000-01-01T00:00:00Z. No run measured by this tool is older; a time given in seconds
(``time.time()`` is about 1.8e9) is far below it."""
MAX_TS_MS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z, the last millisecond of a four-digit year. Microseconds (about
1.8e15) and ``time.time_ns()`` (about 1.8e18) are far above it."""
DEFAULT_MAX_AGE_MS = 7 * 24 * 3_600_000
"""ts_ms at most 7 days before the time the event is built (the emitter, against the host's
clock) or reaches Kafka (the job, against the record's Kafka timestamp)."""
DEFAULT_MAX_AHEAD_MS = 10 * 60_000
"""ts_ms at most 10 minutes after the time the event is built (emitter) or reaches Kafka (job):
clocks of NTP-synchronised hosts differ by milliseconds; minutes ahead means a wrong clock or a
wrong unit."""
MAX_INTERVAL_MS = 24 * 3_600_000
"""A measurement's interval, ts_ms - interval_start_ms: at most a day."""

# Energy and power.
MAX_COMPONENT_POWER_W = 100_000.0
"""Mean power of one component of one event (cpu, ram, all GPUs together): 100 kW is a whole
rack (an NVIDIA GB200 NVL72 draws about 120 kW for 72 GPUs; an 8-GPU DGX B200 about 14 kW). A
value given in mJ instead of J is 1000x too large and lands above it."""
MAX_DEVICE_POWER_W = 5_000.0
"""Mean power of one GPU over an interval: 3.5x the largest accelerator today (about 1.4 kW)."""
MIN_CREDITED_INTERVAL_MS = 1_000
"""The energy bound is power x max(interval, 1 s): an interval may be a few ms long (an epoch
closed right after the last measurement) while the meters still report a little energy."""
MAX_GPUS = 256
"""GPUs per event; a GPU's index is in [0, MAX_GPUS)."""

# Site and grid.
MIN_PUE = 1.0
MAX_PUE = 3.0
"""Power usage effectiveness is total facility power over IT power, so at least 1 by definition.
The industry average is about 1.56 (Uptime Institute survey 2024) and old small server rooms
reach 2 to 2.5; above 3 is more likely a percentage (120 for 1.2) or another mistake."""
MIN_INTENSITY_G_PER_KWH = 0.0
MAX_INTENSITY_G_PER_KWH = 2_000.0
"""Carbon intensity, g CO2e per kWh: 0 for an all-renewable or nuclear supply; the most
carbon-intensive generation (lignite, oil shale) is about 1,000 to 1,200 g/kWh over its life
cycle (IPCC AR5 ranges), so no grid mix reaches 2,000; kg/kWh or g/MWh slips land outside."""

# Grid intensity (schemas/grid_intensity.avsc): the intensity's bounds are those above.
GRID_INTENSITY_KINDS = ("average", "marginal")
"""What a grid figure measures: the mix's average emissions per kWh, or the marginal
generator's. Pricing a run with one or the other answers different questions, so they are kept
apart."""
MIN_GRID_PERIOD_MS = 60_000
"""A grid period (end_ms - start_ms) is at least a minute: the finest public series are 5
minutes (WattTime, Electricity Maps' 5_minutes granularity); a period of milliseconds is a time
given in seconds or a start repeated as the end."""
MAX_GRID_PERIOD_MS = 24 * 3_600_000
"""...and at most a day (Electricity Maps' daily granularity): a longer figure is a yearly or
monthly average, which is the carbon-intensity table's job, not the stream's."""

# Host.
MAX_CPU_COUNT = 65_536
"""Logical CPUs of one host (the largest single-image servers have a few thousand)."""
MAX_RAM_GB = 100_000.0
"""Memory of one host, GB (the largest single-image servers have tens of TB)."""

# Progress.
MAX_COUNT = 10**15
"""seq, step, and samples and tokens per interval. A whole frontier-model pre-training run is
about 1.5e13 tokens; sums of such counts stay exact in a double (below 2**53)."""
MAX_EPOCH = 2**31 - 1
"""The schema's int."""
MAX_ABS_LOSS = 1e100
"""Loss may be negative (a log-likelihood) but is finite and at most 1e100 in magnitude, so
that sums and means of many of them stay finite doubles. Accuracy is a share, in [0, 1]."""


def max_energy_j(interval_ms: int, power_w: float) -> float:
    """The most energy a component of mean power ``power_w`` can report over an interval."""
    return power_w * max(interval_ms, MIN_CREDITED_INTERVAL_MS) / 1000
