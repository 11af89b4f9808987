"""A fleet's documents in the shapes of ``schemas/documents.py`` (``tests/test_documents.py``
checks they have every field and no other), for the dashboard's benchmark:
runs, their one-minute windows, epochs, hourly rollups, late events and dead letters.

Seeded pseudo-random values; the newest runs are still running and end at ``now``.
"""

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from pymongo.database import Database

from joulestream.schemas import intensity as intensity_table
from joulestream.schemas import pricing

Document = dict[str, Any]

USERS = [f"user{i:02d}" for i in range(20)]
PROJECTS = ["vision", "nlp", "speech", "recsys", "rl"]
MODELS = ["resnet50", "vit-b16", "bert-base", "gpt2-small", "llama-7b", "whisper-s", "t5-base"]
DATASETS = ["imagenet", "c4", "librispeech", "wikitext", "criteo"]
FRAMEWORKS = ["pytorch", "jax", "tensorflow"]
# Priced from the job's own table, so that the documents carry its figures and citations.
_TABLE = intensity_table.load()
REGIONS = {zone: _TABLE[zone] for zone in ("DE", "FR", "SE", "PL", "US", "aws:us-east-1")}
WINDOW_S = 60
ROLLUP_S = 3600


def _co2e_g(energy_j: float, pue: float, intensity: float) -> float:
    return pricing.co2e_g(energy_j, pue, intensity)


def fleet(
    runs: int, windows_per_run: int, now: datetime, running: int = 20, seed: int = 7
) -> Iterator[tuple[Document, list[Document], list[Document], list[Document]]]:
    """Per run: its ``runs`` document, windows, epochs and late events."""
    rng = random.Random(seed)
    for index in range(runs):
        run_id = f"bench-{index:05d}"
        region = rng.choice(list(REGIONS))
        row, pue = REGIONS[region], rng.choice([1.0, 1.1, 1.2])
        intensity = row.intensity_g_per_kwh
        is_running = index < running
        end = now if is_running else now - timedelta(hours=rng.uniform(1, 24 * 30))
        end = end.replace(second=0, microsecond=0)
        start = end - timedelta(seconds=WINDOW_S * windows_per_run)
        epochs_n = 10
        windows: list[Document] = []
        gpu_w, cpu_w, ram_w = rng.uniform(150, 700), rng.uniform(40, 120), rng.uniform(10, 30)
        samples_per_window = rng.randint(2_000, 20_000)
        for w in range(windows_per_run):
            window_start = start + timedelta(seconds=WINDOW_S * w)
            cpu, gpu, ram = (p * WINDOW_S * rng.uniform(0.8, 1.0) for p in (cpu_w, gpu_w, ram_w))
            energy = cpu + gpu + ram
            epoch = w * epochs_n // windows_per_run
            windows.append(
                {
                    "_id": f"{run_id}/{window_start:%Y-%m-%dT%H:%M:%SZ}",
                    "run_id": run_id,
                    "window_start": window_start,
                    "window_end": window_start + timedelta(seconds=WINDOW_S),
                    "events": 12,
                    "epoch": epoch,
                    "samples": samples_per_window,
                    "tokens": 0,
                    "loss": 2.5 * 0.997**w,
                    "accuracy": 1 - 0.9 * 0.997**w,
                    "cpu_energy_j": cpu,
                    "gpu_energy_j": gpu,
                    "ram_energy_j": ram,
                    "energy_j": energy,
                    "pue": pue,
                    "intensity_g_per_kwh": intensity,
                    "intensity_source": row.cited,
                    "intensity_fallback": False,
                    "interval_priced_energy_j": 0.0,
                    "grid_priced_energy_j": 0.0,
                    "grid_intensity_g_per_kwh": None,
                    "grid_source": None,
                    "cpu_co2e_g": _co2e_g(cpu, pue, intensity),
                    "gpu_co2e_g": _co2e_g(gpu, pue, intensity),
                    "ram_co2e_g": _co2e_g(ram, pue, intensity),
                    "co2e_g": _co2e_g(energy, pue, intensity),
                    # Its events, and 1 for the run_started that priced it.
                    "version": 13,
                }
            )
        epochs = [_epoch(run_id, e, [w for w in windows if w["epoch"] == e]) for e in range(10)]
        late: list[Document] = [
            {
                "_id": f"{run_id}-late-{k}",
                "event_id": f"{run_id}-late-{k}",
                "run_id": run_id,
                "seq": k,
                "event_at": start + timedelta(seconds=30 * k),
                "watermark_at": start + timedelta(seconds=30 * k + 20),
                "cpu_energy_j": 10.0,
                "gpu_energy_j": 20.0,
                "ram_energy_j": 5.0,
                "energy_j": 35.0,
            }
            for k in range(2)
        ]
        totals = {
            field: float(sum(w[field] for w in windows) + sum(e[field] for e in late))
            for field in ("cpu_energy_j", "gpu_energy_j", "ram_energy_j", "energy_j")
        }
        samples = samples_per_window * windows_per_run
        run = {
            "_id": run_id,
            "run_id": run_id,
            "user_id": rng.choice(USERS),
            "project": rng.choice(PROJECTS),
            "model": rng.choice(MODELS),
            "dataset": rng.choice(DATASETS),
            "framework": rng.choice(FRAMEWORKS),
            "region": region,
            "status": "running" if is_running else rng.choice(["completed"] * 8 + ["failed"]),
            "events": 12 * windows_per_run + 2,
            "last_seq": 12 * windows_per_run + 2,
            "started_at": start,
            "last_event_at": end,
            "finished_at": None if is_running else end,
            "watermark_at": end - timedelta(seconds=5),
            "samples": samples,
            "tokens": 0,
            "epoch": epochs_n - 1,
            "step": windows_per_run * 10,
            "loss": windows[-1]["loss"],
            "accuracy": windows[-1]["accuracy"],
            **totals,
            "pue": pue,
            "intensity_g_per_kwh": intensity,
            "intensity_source": row.cited,
            "intensity_fallback": False,
            "interval_priced_energy_j": 0.0,
            "grid_priced_energy_j": 0.0,
            "grid_sources": [],
            **{
                f"{part}_co2e_g": _co2e_g(totals[f"{part}_energy_j"], pue, intensity)
                for part in ("cpu", "gpu", "ram")
            },
            "co2e_g": _co2e_g(totals["energy_j"], pue, intensity),
            "energy_j_per_sample": totals["energy_j"] / samples,
            "co2e_g_per_sample": _co2e_g(totals["energy_j"], pue, intensity) / samples,
            # The latest measurement's mean power, taken as its window's (the seed has no events).
            "power_w": windows[-1]["energy_j"] / WINDOW_S,
            "energy_j_per_token": None,
            "co2e_g_per_token": None,
            "cpu_methods": ["rapl"],
            "ram_methods": ["rapl"],
            "gpu_methods": ["nvml"],
            "version": 12 * windows_per_run + 3,
            "planned_steps": None,
            "planned_epochs": None,
            "gpus": [{"gpu_index": 0, "energy_j": totals["gpu_energy_j"], "mean_utilisation": 0.9}],
        }
        yield run, windows, epochs, late


def _epoch(run_id: str, epoch: int, windows: list[Document]) -> Document:
    parts = ("cpu_energy_j", "gpu_energy_j", "ram_energy_j", "energy_j")
    return {
        "_id": f"{run_id}/{epoch}",
        "run_id": run_id,
        "epoch": epoch,
        "events": 12 * len(windows),
        "started_at": windows[0]["window_start"],
        "ended_at": windows[-1]["window_end"],
        **{part: sum(w[part] for w in windows) for part in parts},
        "samples": sum(w["samples"] for w in windows),
        "tokens": 0,
        "loss": windows[-1]["loss"],
        "accuracy": windows[-1]["accuracy"],
        # Priced like its run, which is its windows' pricing.
        **{k: windows[0][k] for k in ("pue", "intensity_g_per_kwh", "intensity_source")},
        "intensity_fallback": windows[0]["intensity_fallback"],
        "interval_priced_energy_j": 0.0,
        "grid_priced_energy_j": 0.0,
        **{
            part.replace("energy_j", "co2e_g"): sum(
                w[part.replace("energy_j", "co2e_g")] for w in windows
            )
            for part in parts
        },
        "version": 12 * len(windows) + 1,
    }


def rollups(runs: list[Document], windows: list[Document]) -> dict[str, Document]:
    """Hourly rollups per user, model and region of the given windows, added into ``into``."""
    by_run = {run["run_id"]: run for run in runs}
    out: dict[str, Document] = {}
    for window in windows:
        run = by_run[window["run_id"]]
        start = window["window_start"].replace(minute=0, second=0, microsecond=0)
        key = f"{run['user_id']}/{run['model']}/{run['region']}/{start:%Y-%m-%dT%H:%M:%SZ}"
        doc = out.setdefault(
            key,
            {
                "_id": key,
                "user_id": run["user_id"],
                "model": run["model"],
                "region": run["region"],
                "period_start": start,
                "period_end": start + timedelta(seconds=ROLLUP_S),
                "run_ids": set(),
                "events": 0,
                "cpu_energy_j": 0.0,
                "gpu_energy_j": 0.0,
                "ram_energy_j": 0.0,
                "energy_j": 0.0,
                "grid_priced_energy_j": 0.0,
                "interval_priced_energy_j": 0.0,
                "co2e_g": 0.0,
                "grid_co2e_g": 0.0,
                "interval_co2e_g": 0.0,
            },
        )
        doc["run_ids"].add(run["run_id"])
        doc["events"] += window["events"]
        for field in ("cpu_energy_j", "gpu_energy_j", "ram_energy_j", "energy_j", "co2e_g"):
            doc[field] += window[field]
    for doc in out.values():
        doc["runs"] = len(doc.pop("run_ids"))
        doc["version"] = doc["events"]
    return out


def dead_letters(count: int, now: datetime) -> list[Document]:
    return [
        {
            "_id": f"training.events/0/{offset}",
            "reason": "undecodable: bench",
            "kafka_partition": 0,
            "kafka_offset": offset,
            "raw_bytes": b"\x00",
            "event_id": None,
            "run_id": None,
            "event_type": None,
            "received_at": now - timedelta(minutes=offset),
        }
        for offset in range(count)
    ]


def seed(db: Database[Document], runs: int, windows_per_run: int, now: datetime) -> int:
    """Writes the fleet into ``db`` in batches; returns the number of documents written."""
    written = 0
    batch_runs: list[Document] = []
    batch_windows: list[Document] = []
    all_rollups: dict[str, Document] = {}
    for run, windows, epochs, late in fleet(runs, windows_per_run, now):
        batch_runs.append(run)
        batch_windows.extend(windows)
        db.epochs.insert_many(epochs, ordered=False)
        db.late_events.insert_many(late, ordered=False)
        written += len(epochs) + len(late)
        if len(batch_windows) >= 20_000:
            written += _flush(db, batch_runs, batch_windows, all_rollups)
            batch_runs, batch_windows = [], []
    written += _flush(db, batch_runs, batch_windows, all_rollups)
    db.rollups.insert_many(list(all_rollups.values()), ordered=False)
    letters = dead_letters(200, now)
    db.dead_letters.insert_many(letters, ordered=False)
    return written + len(all_rollups) + len(letters)


def _flush(
    db: Database[Document],
    runs: list[Document],
    windows: list[Document],
    all_rollups: dict[str, Document],
) -> int:
    if not runs:
        return 0
    for key, doc in rollups(runs, windows).items():
        # A period's group can span two batches: add the parts up.
        if key in all_rollups:
            total = all_rollups[key]
            for field in ("runs", "events", "energy_j", "co2e_g", "version"):
                total[field] += doc[field]
            for field in ("cpu_energy_j", "gpu_energy_j", "ram_energy_j"):
                total[field] += doc[field]
        else:
            all_rollups[key] = doc
    db.runs.insert_many(runs, ordered=False)
    for start in range(0, len(windows), 5_000):
        db.windows.insert_many(windows[start : start + 5_000], ordered=False)
    return len(runs) + len(windows)
