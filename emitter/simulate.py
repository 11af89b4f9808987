"""A simulated fleet of training runs with believable power, progress and loss curves, seeded.

Each run sends ``RunStarted``, one ``Measurement`` per interval, and ``RunFinished``. Energies
are rounded to multiples of 2**-10 J: sums of such numbers are exact in binary floating point in
any order (well below 2**43 J), so a pipeline's totals can be checked to the bit.
"""

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from joulestream import limits
from joulestream.events import Event, GpuDevice, GpuEnergy, Measurement, RunFinished, RunStarted

QUANTUM_J = 2.0**-10

USERS = ("alice", "bob", "chen", "dana", "emeka", "farah")
REGIONS = (
    "FR", "DE", "PL", "SE", "US", "IN", "aws:us-east-1", "aws:eu-north-1",
    "gcp:europe-west4", "azure:westeurope",
)  # fmt: skip


@dataclass(frozen=True)
class Profile:
    """A model, what it trains on, and the hardware it runs on."""

    model: str
    project: str
    dataset: str
    framework: str
    gpus: int
    gpu_model: str
    gpu_idle_w: float
    gpu_max_w: float
    cpu_model: str
    cpu_count: int
    cpu_tdp_w: float
    ram_gb: float
    samples_per_s: int
    epoch_s: int
    """Simulated seconds per epoch."""


PROFILES = (
    Profile("resnet50", "vision", "imagenet-1k", "pytorch 2.5", 1, "NVIDIA A100-SXM4-40GB",
            60.0, 400.0, "AMD EPYC 7742", 16, 225.0, 128.0, 900, 600),
    Profile("bert-base", "nlp", "wikipedia-en", "transformers 4.46", 2, "NVIDIA V100-SXM2-32GB",
            45.0, 300.0, "Intel Xeon Gold 6248", 20, 150.0, 192.0, 400, 900),
    Profile("llama-7b-lora", "llm", "alpaca", "pytorch 2.5", 4, "NVIDIA H100-SXM5-80GB",
            70.0, 700.0, "Intel Xeon Platinum 8480+", 56, 350.0, 1024.0, 60, 1800),
    Profile("mnist-mlp", "tabular", "mnist", "keras 3.6", 0, "", 0.0, 0.0,
            "Intel Core i7-12700", 12, 65.0, 32.0, 20_000, 120),
)  # fmt: skip


@dataclass(frozen=True)
class SimulatedRun:
    run_id: str
    user_id: str
    region: str
    profile: Profile
    start_ms: int
    seed: int


def quantize(energy_j: float) -> float:
    """Round to a multiple of QUANTUM_J (see the module docstring)."""
    return round(energy_j / QUANTUM_J) * QUANTUM_J


def plan_fleet(runs: int, start_ms: int, seed: int) -> list[SimulatedRun]:
    """The runs of a fleet: who, where, on what; starts staggered by 30 s."""
    rng = random.Random(seed)
    return [
        SimulatedRun(
            # Seed and start time in the id: replaying the same fleet gives the same ids, and a
            # fleet started later never adds its events to an earlier fleet's runs.
            run_id=f"sim-{seed}-{start_ms // 1000}-{i:03d}",
            user_id=rng.choice(USERS),
            region=rng.choice(REGIONS),
            profile=rng.choice(PROFILES),
            start_ms=start_ms + i * 30_000,
            seed=seed,
        )
        for i in range(runs)
    ]


def _utilisation(t_s: float, rng: random.Random) -> float:
    """Share of peak power at ``t_s`` seconds into training: warm-up, then epochs with an
    evaluation dip every 300 s and a checkpoint save every 600 s."""
    if t_s < 60:
        base = 0.2 + 0.7 * t_s / 60
    elif t_s % 600 < 10:
        base = 0.15  # checkpoint save: accelerators mostly idle
    elif t_s % 300 < 20:
        base = 0.55  # evaluation
    else:
        base = 0.92
    return min(1.0, max(0.0, base + rng.gauss(0, 0.03)))


def run_events(run: SimulatedRun, duration_s: int, interval_s: int = 1) -> Iterator[Event]:
    """Every event of one run over ``duration_s`` seconds: start, one measurement per
    ``interval_s``, finish. A simulation chooses its own times (a fleet starting now runs into
    the future; ``--start-ms`` backfills the past), so only the absolute time bounds apply."""
    with limits.event_time_window(limits.ANY_TIME):
        # Built at once: the window must not stay set across a generator's yields.
        events = list(_run_events(run, duration_s, interval_s))
    yield from events


def _run_events(run: SimulatedRun, duration_s: int, interval_s: int) -> Iterator[Event]:
    rng = random.Random(f"{run.seed}/{run.run_id}")
    p = run.profile
    header: dict[str, Any] = {"run_id": run.run_id, "user_id": run.user_id, "model": p.model,
              "region": run.region, "project": p.project}  # fmt: skip
    yield RunStarted(
        **header, seq=0, ts_ms=run.start_ms, dataset=p.dataset, framework=p.framework,
        host=f"node-{rng.randrange(100):02d}", cpu_model=p.cpu_model, cpu_count=p.cpu_count,
        cpu_tdp_w=p.cpu_tdp_w, ram_gb=p.ram_gb,
        gpus=tuple(GpuDevice(index=i, uuid=f"GPU-{run.run_id}-{i}", model=p.gpu_model,
                             idle_power_w=p.gpu_idle_w, max_power_w=p.gpu_max_w)
                   for i in range(p.gpus)),
        hyperparameters={"lr": "0.001", "batch_size": str(64 * max(1, p.gpus))},
        # The plan: the epochs the simulated duration holds (the last one maybe partial).
        planned_epochs=max(1, math.ceil(duration_s / p.epoch_s)),
    )  # fmt: skip
    step = 0
    seq = 0
    for seq, t_s in enumerate(range(0, duration_s, interval_s), start=1):
        u = _utilisation(t_s, rng)
        per_gpu_j = [
            quantize((p.gpu_idle_w + (p.gpu_max_w - p.gpu_idle_w) * u) * interval_s)
            for _ in range(p.gpus)
        ]
        samples = int(p.samples_per_s * interval_s * u)
        step += max(1, samples // 64)
        loss = 2.5 * math.exp(-t_s / (2 * p.epoch_s)) + 0.1 + abs(rng.gauss(0, 0.01))
        start = run.start_ms + t_s * 1000
        yield Measurement(
            **header, seq=seq, interval_start_ms=start, ts_ms=start + interval_s * 1000,
            cpu_energy_j=quantize(p.cpu_tdp_w * (0.3 + 0.5 * u) * interval_s),
            cpu_method="simulated", ram_method="simulated",
            gpu_energy_j=sum(per_gpu_j),
            gpus=tuple(GpuEnergy(index=i, energy_j=e, method="simulated", utilisation=round(u, 3))
                       for i, e in enumerate(per_gpu_j)),
            ram_energy_j=quantize(p.ram_gb * 0.375 * interval_s),  # ~3 W per 8 GB DIMM
            cpu_utilisation=round(u, 3), epoch=t_s // p.epoch_s, step=step, samples=samples,
            loss=round(loss, 4), accuracy=round(min(0.99, max(0.0, 0.95 * (1 - loss / 2.6))), 4),
        )  # fmt: skip
    yield RunFinished(
        **header, seq=seq + 1, ts_ms=run.start_ms + duration_s * 1000, status="completed"
    )


def fleet(
    runs: int, duration_s: int, start_ms: int, seed: int = 42, interval_s: int = 1
) -> Iterator[Event]:
    """Every event of the fleet, merged in event-time order as the trainers would emit."""
    planned = plan_fleet(runs, start_ms, seed)
    events = [e for run in planned for e in run_events(run, duration_s, interval_s)]
    events.sort(key=lambda e: (e.ts_ms, e.run_id, e.seq))
    yield from events


def measurements(events: list[Event]) -> list[Measurement]:
    """The measurements among ``events``."""
    return [e for e in events if isinstance(e, Measurement)]
