"""A small fleet in the documents' shapes (schemas/documents.py; tests/test_documents.py checks
that it spells no field the contract lacks), with values chosen to check the
dashboard to the digit: run-a (alice, DE, running) has three one-minute windows of 7,200 J
(120 W, its ``power_w``), two epochs, two GPUs and a plan of 100 steps; run-b (bob, SE,
completed) is a run with a single event (3,600 J in 1 s: 3.6 kW) and no epochs. DE has an
hourly ``average`` grid series from two hours before run-a's hour to two hours after (100, 500,
381, 300, and a forecast of 200 g/kWh), and a marginal figure of 10 g/kWh two hours before that
the what-if must not use; SE has none."""

from datetime import datetime, timedelta
from typing import Any, TypedDict

from pymongo.database import Database

from joulestream.schemas import pricing

Document = dict[str, Any]


def window(
    run_id: str,
    start: datetime,
    parts: tuple[float, float, float],
    pue: float,
    intensity: float,
    epoch: int | None,
    loss: float | None,
    samples: int,
) -> Document:
    gpu, cpu, ram = parts
    energy = gpu + cpu + ram
    return {
        "_id": f"{run_id}/{start:%Y-%m-%dT%H:%M:%SZ}", "run_id": run_id,
        "window_start": start, "window_end": start + timedelta(seconds=60), "events": 12,
        "epoch": epoch, "samples": samples, "tokens": 0, "loss": loss, "accuracy": None,
        "gpu_energy_j": gpu, "cpu_energy_j": cpu, "ram_energy_j": ram, "energy_j": energy,
        "pue": pue, "intensity_g_per_kwh": intensity, "intensity_source": "Ember 2023",
        "intensity_fallback": False,
        "co2e_g": pricing.co2e_g(energy, pue, intensity),
    }  # fmt: skip


class Epoch(TypedDict):
    """An ``epochs`` document (schemas/documents.py's ``EPOCHS``), every field spelled."""

    _id: str
    run_id: str
    epoch: int
    events: int
    started_at: datetime
    ended_at: datetime
    gpu_energy_j: float
    cpu_energy_j: float
    ram_energy_j: float
    energy_j: float
    samples: int
    tokens: int
    loss: float | None
    accuracy: float | None
    pue: float
    intensity_g_per_kwh: float
    intensity_source: str
    intensity_fallback: bool
    interval_priced_energy_j: float
    grid_priced_energy_j: float
    gpu_co2e_g: float
    cpu_co2e_g: float
    ram_co2e_g: float
    co2e_g: float
    version: int


def epoch(
    run_id: str,
    number: int,
    events: int,
    started_at: datetime,
    ended_at: datetime,
    parts: tuple[float, float, float],
    samples: int,
    loss: float,
    version: int,
) -> Epoch:
    """One of run-a's epochs, priced by the job like its run (381 g/kWh from the table, PUE 1):
    ``parts`` is the GPU, CPU and RAM energy in joules."""
    gpu, cpu, ram = parts
    energy = gpu + cpu + ram
    pue, intensity = 1.0, 381.0
    return {
        "_id": f"{run_id}/{number}", "run_id": run_id, "epoch": number, "events": events,
        "started_at": started_at, "ended_at": ended_at, "gpu_energy_j": gpu,
        "cpu_energy_j": cpu, "ram_energy_j": ram, "energy_j": energy, "samples": samples,
        "tokens": 0, "loss": loss, "accuracy": None, "pue": pue,
        "intensity_g_per_kwh": intensity, "intensity_source": "Ember 2023",
        "intensity_fallback": False, "interval_priced_energy_j": 0.0,
        "grid_priced_energy_j": 0.0, "gpu_co2e_g": pricing.co2e_g(gpu, pue, intensity),
        "cpu_co2e_g": pricing.co2e_g(cpu, pue, intensity),
        "ram_co2e_g": pricing.co2e_g(ram, pue, intensity),
        "co2e_g": pricing.co2e_g(energy, pue, intensity), "version": version,
    }  # fmt: skip


def grid_period(
    zone: str, kind: str, start: datetime, intensity: float, published: datetime, estimated: bool
) -> Document:
    """One hour of a zone's grid series, as the job stores it."""
    return {
        "_id": f"{zone}/{kind}/{start:%Y-%m-%dT%H:%M:%SZ}", "zone": zone, "kind": kind,
        "period_start": start, "period_end": start + timedelta(hours=1),
        "intensity_g_per_kwh": intensity, "source": "Electricity Maps (lifecycle)",
        "published_at": published, "estimated": estimated,
        "version": int(published.timestamp() * 1000),
    }  # fmt: skip


def seed(db: Database[Document], now: datetime) -> None:
    """Writes the fleet ending at ``now``'s minute (where run-a's latest window closes)."""
    end = now.replace(second=0, microsecond=0)
    start_a = end - timedelta(minutes=3)
    windows_a = [
        window("run-a", start_a + timedelta(minutes=i), (3600.0, 2400.0, 1200.0), 1.0, 381.0,
               epoch, loss, 1000)
        for i, (epoch, loss) in enumerate([(0, 2.0), (0, 1.5), (1, 1.0)])
    ]  # fmt: skip
    start_b = end - timedelta(hours=1)
    windows_b = [window("run-b", start_b, (3600.0, 0.0, 0.0), 1.0, 36.0, None, None, 0)]
    common = {"pue": 1.0, "intensity_source": "Ember 2023", "intensity_fallback": False,
              "tokens": 0, "energy_j_per_token": None, "co2e_g_per_token": None}  # fmt: skip
    run_a = {
        "_id": "run-a", "run_id": "run-a", "user_id": "alice", "project": "vision",
        "model": "resnet50", "dataset": "imagenet", "framework": "pytorch", "region": "DE",
        "status": "running", "events": 36, "last_seq": 36, "started_at": start_a,
        "last_event_at": end, "finished_at": None, "samples": 3000, "epoch": 1, "step": 30,
        "loss": 1.0, "accuracy": None, "gpu_energy_j": 10800.0, "cpu_energy_j": 7200.0,
        "ram_energy_j": 3600.0, "energy_j": 21600.0, "intensity_g_per_kwh": 381.0,
        "co2e_g": pricing.co2e_g(21600.0, 1.0, 381.0), "energy_j_per_sample": 7.2,
        "co2e_g_per_sample": pricing.co2e_g(21600.0, 1.0, 381.0) / 3000, "power_w": 120.0,
        "cpu_methods": ["rapl"], "ram_methods": ["estimate"], "gpu_methods": ["nvml"],
        "version": 37, **common,
        # Its plan (30 of 100 steps done in 3 min) and its two GPUs (10,800 J together).
        "planned_steps": 100, "planned_epochs": 4,
        "gpus": [{"gpu_index": 0, "energy_j": 7200.0, "mean_utilisation": 0.9},
                 {"gpu_index": 1, "energy_j": 3600.0, "mean_utilisation": 0.45}],
    }  # fmt: skip
    run_b = {
        "_id": "run-b", "run_id": "run-b", "user_id": "bob", "project": "nlp",
        "model": "bert-base", "dataset": "c4", "framework": "jax", "region": "SE",
        "status": "completed", "events": 1, "last_seq": 2,
        "started_at": start_b + timedelta(seconds=59),
        "last_event_at": start_b + timedelta(seconds=60),
        "finished_at": start_b + timedelta(seconds=60),
        "samples": 0, "epoch": None, "step": None, "loss": None, "accuracy": None,
        "gpu_energy_j": 3600.0, "cpu_energy_j": 0.0, "ram_energy_j": 0.0, "energy_j": 3600.0,
        "intensity_g_per_kwh": 36.0, "co2e_g": 0.036, "energy_j_per_sample": None,
        "co2e_g_per_sample": None, "power_w": 3600.0, "cpu_methods": [], "ram_methods": [],
        "gpu_methods": ["nvml"], "version": 3, **common,
    }  # fmt: skip
    epochs = [
        epoch("run-a", 0, 24, start_a, start_a + timedelta(minutes=2), (7200.0, 4800.0, 2400.0),
              2000, 1.5, 25),
        epoch("run-a", 1, 12, start_a + timedelta(minutes=2), end, (3600.0, 2400.0, 1200.0),
              1000, 1.0, 13),
    ]  # fmt: skip
    hour_a = windows_a[0]["window_start"].replace(minute=0)
    hour_b = start_b.replace(minute=0)
    rollups = [
        {"_id": f"alice/resnet50/DE/{hour_a:%Y-%m-%dT%H:%M:%SZ}", "user_id": "alice",
         "model": "resnet50", "region": "DE", "period_start": hour_a,
         "period_end": hour_a + timedelta(hours=1), "runs": 1, "events": 36,
         "energy_j": 21600.0, "co2e_g": run_a["co2e_g"], "version": 37},
        {"_id": f"bob/bert-base/SE/{hour_b:%Y-%m-%dT%H:%M:%SZ}", "user_id": "bob",
         "model": "bert-base", "region": "SE", "period_start": hour_b,
         "period_end": hour_b + timedelta(hours=1), "runs": 1, "events": 1,
         "energy_j": 3600.0, "co2e_g": 0.036, "version": 2},
    ]  # fmt: skip
    db.runs.insert_many([run_a, run_b])
    db.windows.insert_many(windows_a + windows_b)
    db.epochs.insert_many([dict(e) for e in epochs])
    db.rollups.insert_many(rollups)
    db.late_events.insert_one(
        {"_id": "late-1", "event_id": "late-1", "run_id": "run-a", "seq": 5,
         "event_at": start_a, "watermark_at": start_a + timedelta(seconds=30),
         "cpu_energy_j": 0.0, "gpu_energy_j": 0.0, "ram_energy_j": 0.0, "energy_j": 0.0}
    )  # fmt: skip
    db.grid_intensity.insert_many(
        [grid_period("DE", "average", hour_a + timedelta(hours=h), g, end, h == 2)
         for h, g in ((-2, 100.0), (-1, 500.0), (0, 381.0), (1, 300.0), (2, 200.0))]
        + [grid_period("DE", "marginal", hour_a - timedelta(hours=2), 10.0, end, False)]
    )  # fmt: skip
    db.dead_letters.insert_one(
        {"_id": "training.events/0/7", "reason": "unknown event_type: bogus",
         "kafka_partition": 0, "kafka_offset": 7, "raw_bytes": None, "event_id": "e7",
         "run_id": "run-a", "event_type": "bogus", "received_at": end}
    )  # fmt: skip


# Names as a hostile or careless trainer could send them: markdown, HTML, spreadsheet formulas.
HOSTILE_RUN = "[pay here](https://evil.example/)"
HOSTILE_USER = '<a href="https://evil.example/">mallory</a>'
HOSTILE_MODEL = '=HYPERLINK("https://evil.example/","x")'
PLAIN_RUN = "run-z"
PLAIN_USER = "@bob"


def seed_hostile(db: Database[Document], now: datetime) -> None:
    """Two runs ending at ``now``'s minute, each with one window and its rollup: the run
    ``HOSTILE_RUN`` of ``HOSTILE_USER`` training ``HOSTILE_MODEL`` (3,600 J), and ``PLAIN_RUN``
    of ``PLAIN_USER`` (7,200 J)."""
    end = now.replace(second=0, microsecond=0)
    start = end - timedelta(minutes=1)
    hour = start.replace(minute=0)
    for run_id, user, model, energy_j in (
        (HOSTILE_RUN, HOSTILE_USER, HOSTILE_MODEL, 3600.0),
        (PLAIN_RUN, PLAIN_USER, "resnet50", 7200.0),
    ):
        db.runs.insert_one(
            {"_id": run_id, "run_id": run_id, "user_id": user, "project": "p", "model": model,
             "dataset": "d", "framework": "pytorch", "region": "SE", "status": "running",
             "events": 12, "last_seq": 12, "started_at": start, "last_event_at": end,
             "finished_at": None, "samples": 100, "epoch": None, "step": None, "loss": None,
             "accuracy": None, "gpu_energy_j": energy_j, "cpu_energy_j": 0.0,
             "ram_energy_j": 0.0, "energy_j": energy_j, "pue": 1.0,
             "intensity_g_per_kwh": 36.0, "intensity_source": "Ember 2023",
             "intensity_fallback": False, "co2e_g": pricing.co2e_g(energy_j, 1.0, 36.0),
             "energy_j_per_sample": energy_j / 100, "co2e_g_per_sample": None, "tokens": 0,
             "energy_j_per_token": None, "co2e_g_per_token": None, "power_w": energy_j / 60,
             "cpu_methods": [], "ram_methods": [], "gpu_methods": ["nvml"], "version": 12}
        )  # fmt: skip
        db.windows.insert_one(
            window(run_id, start, (energy_j, 0.0, 0.0), 1.0, 36.0, None, 1.0, 100)
        )
        db.rollups.insert_one(
            {"_id": f"{user}/{model}/SE/{hour:%Y-%m-%dT%H:%M:%SZ}", "user_id": user,
             "model": model, "region": "SE", "period_start": hour,
             "period_end": hour + timedelta(hours=1), "runs": 1, "events": 12,
             "energy_j": energy_j, "co2e_g": pricing.co2e_g(energy_j, 1.0, 36.0), "version": 12}
        )  # fmt: skip
