"""The trainer side's settings, read from the environment in one place: ``EmitterSettings``.

Every variable has a default for a local run; a bad value is a ``ValueError`` naming the
variable when the settings are read (a ``Tracker`` is made, ``track`` starts), never later.
Arguments given to ``Tracker`` win over these. Kafka's login is ``producer.KafkaSecurity.from_env``.
"""

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from joulestream import limits
from joulestream.producer import DEFAULT_SPOOL, PUMP_WAIT_S
from joulestream.schemas import defaults

DEFAULT_BOOTSTRAP = defaults.KAFKA_BOOTSTRAP_SERVERS
DEFAULT_TOPIC = defaults.EVENTS_TOPIC
DEFAULT_REGION = "WORLD"
DEFAULT_SEND_INTERVAL_S = PUMP_WAIT_S
"""How long a tracker's events may wait before they are handed to Kafka together: each hand-over
wakes librdkafka's broker thread (produce, then the acknowledgement), so at 1 s sampling, five
events every 5 s cost a fifth of those wakes. At most ``producer.PUMP_WAIT_S``, how often the
producer must be served anyway."""


@dataclass(frozen=True)
class EmitterSettings:
    """Where events go, how the host is measured and how the run is priced."""

    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    """KAFKA_BOOTSTRAP_SERVERS."""
    topic: str = DEFAULT_TOPIC
    """JOULESTREAM_TOPIC."""
    spool: Path = DEFAULT_SPOOL
    """JOULESTREAM_SPOOL: where events Kafka did not take wait for ``replay``."""
    region: str = DEFAULT_REGION
    """JOULESTREAM_REGION: a country (ISO 3166-1 alpha-2), ``provider:region`` or WORLD."""
    user_id: str | None = None
    """JOULESTREAM_USER; None: the login name."""
    cpu_meter: str = "auto"
    """JOULESTREAM_CPU_METER: auto, rapl or tdp_model."""
    ram_meter: str = "auto"
    """JOULESTREAM_RAM_METER: auto, rapl or ram_model."""
    gpu_meter: str = "auto"
    """JOULESTREAM_GPU_METER: auto, nvml or none."""
    cpu_power_w: float | None = None
    """JOULESTREAM_CPU_POWER_W: the CPU counted at this constant power, watts (CodeCarbon's
    ``force_cpu_power``); method ``forced_power_model``. None: measured or modelled."""
    ram_power_w: float | None = None
    """JOULESTREAM_RAM_POWER_W: the same for the RAM (CodeCarbon's ``force_ram_power``)."""
    gpu_ids: str | None = None
    """JOULESTREAM_GPU_IDS: the GPUs measured, as CUDA_VISIBLE_DEVICES writes them (indices or
    GPU- UUIDs, comma-separated; CodeCarbon's ``gpu_ids``). None: CUDA_VISIBLE_DEVICES, else
    every GPU."""
    pue: float | None = None
    """JOULESTREAM_RUN_PUE: the run's PUE, sent in run_started (the job applies it once).
    None: the job's per-region setting, else 1.0. (JOULESTREAM_PUE is the job's own.)"""
    intensity_g_per_kwh: float | None = None
    """JOULESTREAM_INTENSITY_G_PER_KWH: the run's grid intensity, g CO2e/kWh, sent in
    run_started; it wins over the region's row of the table. None: the table's."""
    csv_path: Path | None = None
    """JOULESTREAM_CSV: append one row per run to this CSV, with CodeCarbon's ``emissions.csv``
    columns (``csv_output``). None: no file (opt-in)."""
    send_interval_s: float = DEFAULT_SEND_INTERVAL_S
    """JOULESTREAM_SEND_INTERVAL_S: a tracker with its own producer (and ``track``) hands its
    events to Kafka at most this often, in [0, ``producer.PUMP_WAIT_S``]; 0: each at once. The
    dashboard sees a measurement up to this much later; ``stop`` sends what waits."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "EmitterSettings":
        """The settings named by the environment (or ``env``); ``ValueError`` on a bad one."""
        e = os.environ if env is None else env
        csv = e.get("JOULESTREAM_CSV") or None
        return cls(
            bootstrap_servers=e.get("KAFKA_BOOTSTRAP_SERVERS") or DEFAULT_BOOTSTRAP,
            topic=e.get("JOULESTREAM_TOPIC") or DEFAULT_TOPIC,
            spool=Path(e.get("JOULESTREAM_SPOOL") or str(DEFAULT_SPOOL)),
            region=e.get("JOULESTREAM_REGION") or DEFAULT_REGION,
            user_id=e.get("JOULESTREAM_USER") or None,
            cpu_meter=e.get("JOULESTREAM_CPU_METER") or "auto",
            ram_meter=e.get("JOULESTREAM_RAM_METER") or "auto",
            gpu_meter=e.get("JOULESTREAM_GPU_METER") or "auto",
            cpu_power_w=_number(e, "JOULESTREAM_CPU_POWER_W", 0, limits.MAX_COMPONENT_POWER_W),
            ram_power_w=_number(e, "JOULESTREAM_RAM_POWER_W", 0, limits.MAX_COMPONENT_POWER_W),
            gpu_ids=e.get("JOULESTREAM_GPU_IDS") or None,
            pue=_number(e, "JOULESTREAM_RUN_PUE", limits.MIN_PUE, limits.MAX_PUE),
            intensity_g_per_kwh=_number(
                e,
                "JOULESTREAM_INTENSITY_G_PER_KWH",
                limits.MIN_INTENSITY_G_PER_KWH,
                limits.MAX_INTENSITY_G_PER_KWH,
            ),
            csv_path=Path(csv) if csv else None,
            send_interval_s=_or(
                _number(e, "JOULESTREAM_SEND_INTERVAL_S", 0, PUMP_WAIT_S), DEFAULT_SEND_INTERVAL_S
            ),
        )


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _number(env: Mapping[str, str], name: str, low: float, high: float) -> float | None:
    text = env.get(name) or None
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text!r}") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be in [{low:g}, {high:g}], got {text!r}")
    return value
