"""Feed CodeCarbon's measurements into joulestream: a CodeCarbon output handler.

    from codecarbon import EmissionsTracker
    from joulestream.codecarbon_output import JoulestreamOutput

    tracker = EmissionsTracker(
        measure_power_secs=1, api_call_interval=1, output_handlers=[JoulestreamOutput(model="m")]
    )

CodeCarbon calls ``live_out`` every ``api_call_interval`` measurements (default 8: set it to 1
for one event per measurement), ``out`` at ``flush`` and ``stop``, and ``exit`` after ``stop``.
The handler emits ``run_started`` at the first call, a ``measurement`` per call with the energy
since the previous one (its own difference of CodeCarbon's running totals, kWh to joules), and
``run_finished`` at ``exit``.

PUE is applied once, by the job. CodeCarbon multiplies every component's energy by its ``pue``
before an output sees it (``EmissionsTracker._do_measurements`` in CodeCarbon 3.3.2:
``energy *= self._pue``), while joulestream's energies are what the devices used and the job
multiplies by the run's PUE when it prices them (``flink_jobs/carbon.py``). So the handler divides
CodeCarbon's energies by CodeCarbon's ``pue`` and sends that ``pue`` in ``run_started``: the
energies stay comparable with every other run's (device energy, whatever the site), the PUE stays
on record with the run, and the priced total carries it exactly once. Not sending the PUE instead
would still be wrong twice over: the job would apply its configured PUE for the region on top of
CodeCarbon's, and the run's energies would silently include the site's overhead. A ``pue``
outside joulestream's limits is not sent (the job then applies its configured one), but the
energies are still divided by it, since CodeCarbon did multiply them.

Methods are ``codecarbon``: CodeCarbon does not tell an output
whether a figure was measured (RAPL, NVML) or estimated (its TDP and RAM rules), so a
``codecarbon`` figure is "as CodeCarbon reported it"; ``joulestream doctor`` on the same
host says what can be measured there. Needs CodeCarbon (not a dependency of the core).
"""

import logging
import math
import os
from pathlib import Path
from typing import Any

from codecarbon.output_methods.base_output import BaseOutput
from codecarbon.output_methods.emissions_data import EmissionsData

from joulestream.events import Measurement, RunFinished, RunStarted
from joulestream.limits import MAX_PUE, MIN_PUE
from joulestream.producer import DEFAULT_SPOOL, EventProducer
from joulestream.schemas.pricing import J_PER_KWH
from joulestream.tracker import DEFAULT_STOP_TIMEOUT_S, now_ms

log = logging.getLogger(__name__)

METHOD = "codecarbon"


def codecarbon_pue(data: EmissionsData) -> float:
    """The PUE CodeCarbon multiplied its energies by (its default 1.0 where it is not a
    positive finite number: CodeCarbon itself would have failed on one)."""
    pue = float(data.pue) if data.pue is not None else 1.0
    return pue if math.isfinite(pue) and pue > 0 else 1.0


def region_of(data: EmissionsData) -> str:
    """joulestream's region for CodeCarbon's location: 'provider:region' on a cloud, else the
    ISO 3166-1 alpha-2 code of CodeCarbon's alpha-3 country, else 'WORLD'."""
    if data.cloud_provider and data.cloud_region:
        return f"{data.cloud_provider}:{data.cloud_region}"
    import pycountry  # comes with CodeCarbon

    country = pycountry.countries.get(alpha_3=(data.country_iso_code or "").upper())
    return str(country.alpha_2) if country is not None else "WORLD"


class JoulestreamOutput(BaseOutput):
    """Forwards CodeCarbon's measurements as joulestream events."""

    def __init__(
        self,
        *,
        model: str,
        producer: EventProducer | None = None,
        region: str | None = None,
        user_id: str | None = None,
        project: str | None = None,
        run_id: str | None = None,
        dataset: str | None = None,
        clock_ms: Any = now_ms,  # noqa: ANN401  (a Callable[[], int]; Any keeps CodeCarbon happy)
        stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S,
    ) -> None:
        """Without ``producer``, one is made from KAFKA_BOOTSTRAP_SERVERS, JOULESTREAM_TOPIC and
        JOULESTREAM_SPOOL (default ``./joulestream-spool.jsonl``), as the tracker and the CLI
        make theirs, and closed at ``exit``, which waits at most ``stop_timeout_s`` for Kafka
        before spooling what is left. ``region`` defaults to CodeCarbon's location, ``project``
        and ``run_id`` to CodeCarbon's project name and run id."""
        self._own_producer = producer is None
        self._stop_timeout_s = stop_timeout_s
        self._producer = producer or EventProducer(
            os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            os.environ.get("JOULESTREAM_TOPIC", "training.events"),
            spool_path=Path(os.environ.get("JOULESTREAM_SPOOL", str(DEFAULT_SPOOL))),
        )
        self._model = model
        self._region = region
        self._user_id = user_id or os.environ.get("JOULESTREAM_USER", "codecarbon")
        self._project = project
        self._run_id = run_id
        self._dataset = dataset
        self._clock_ms = clock_ms
        self._who: dict[str, Any] | None = None
        self._seq = 0
        self._last_ms = 0
        self._last_kwh = (0.0, 0.0, 0.0)
        self._pue = 1.0

    def _start(self, total: EmissionsData, at_ms: int) -> dict[str, Any]:
        who: dict[str, Any] = {
            "run_id": self._run_id or str(total.run_id),
            "user_id": self._user_id,
            "project": self._project or str(total.project_name or "default"),
            "model": self._model,
            "region": self._region or region_of(total),
        }
        self._last_ms = max(0, at_ms - round(total.duration * 1000))
        self._pue = codecarbon_pue(total)
        sent_pue = self._pue if MIN_PUE <= self._pue <= MAX_PUE else None
        if sent_pue is None:
            log.warning(
                "CodeCarbon's pue %g is outside [%g, %g]: run_started carries none, the job "
                "applies its configured PUE",
                self._pue,
                MIN_PUE,
                MAX_PUE,
            )
        self._emit(
            RunStarted(
                **who,
                seq=0,
                ts_ms=self._last_ms,
                dataset=self._dataset,
                framework=f"codecarbon {total.codecarbon_version}",
                cpu_model=total.cpu_model or None,
                cpu_count=int(total.cpu_count) if total.cpu_count else None,
                ram_gb=float(total.ram_total_size) * 2**30 / 1e9 if total.ram_total_size else None,
                pue=sent_pue,
            )
        )
        return who

    def _forward(self, total: EmissionsData) -> None:
        at_ms = self._clock_ms()
        if self._who is None:
            self._who = self._start(total, at_ms)
        totals_kwh = (total.cpu_energy, total.ram_energy, total.gpu_energy)
        # CodeCarbon's totals include its PUE; joulestream's energies do not (module docstring).
        cpu_j, ram_j, gpu_j = (
            max(0.0, (now - then) * J_PER_KWH / self._pue)
            for now, then in zip(totals_kwh, self._last_kwh, strict=True)
        )
        end_ms = max(at_ms, self._last_ms)
        self._emit(
            Measurement(
                **self._who,
                seq=self._seq,
                ts_ms=end_ms,
                interval_start_ms=self._last_ms,
                cpu_energy_j=cpu_j,
                cpu_method=METHOD,
                ram_energy_j=ram_j,
                ram_method=METHOD,
                gpu_energy_j=gpu_j,
                cpu_utilisation=min(1.0, max(0.0, total.cpu_utilization_percent / 100)),
            )
        )
        self._last_ms, self._last_kwh = end_ms, totals_kwh

    def _emit(self, event: RunStarted | Measurement | RunFinished) -> None:
        self._producer.emit(event)
        self._seq += 1

    def live_out(self, total: EmissionsData, delta: EmissionsData) -> None:
        self._forward(total)

    def out(self, total: EmissionsData, delta: EmissionsData) -> None:
        self._forward(total)

    def exit(self) -> None:
        if self._who is not None:
            self._emit(
                RunFinished(
                    **self._who,
                    seq=self._seq,
                    ts_ms=max(self._clock_ms(), self._last_ms),
                    status="completed",
                )
            )
            self._who = None
        if self._own_producer:
            self._producer.close(timeout_s=self._stop_timeout_s)
