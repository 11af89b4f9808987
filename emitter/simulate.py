"""A small simulated fleet of training runs with believable power curves, seeded and reproducible.

Energies are rounded to multiples of 2**-10 J: sums of such numbers are exact in binary floating
point in any order (well below 2**43 J), so a pipeline's totals can be checked to the bit.
"""

import random
from collections.abc import Iterator
from dataclasses import dataclass

from emitter.events import Measurement

QUANTUM_J = 2.0**-10

USERS = ("alice", "bob", "chen", "dana")
REGIONS = ("FR", "DE", "PL", "SE", "US", "aws:us-east-1", "gcp:europe-west4", "azure:westeurope")


@dataclass(frozen=True)
class Profile:
    """A model and the hardware it trains on."""

    model: str
    gpus: int
    gpu_idle_w: float
    gpu_max_w: float
    cpu_tdp_w: float
    ram_w: float
    samples_per_s: int


PROFILES = (
    Profile("resnet50", 1, 60.0, 300.0, 125.0, 12.0, 900),
    Profile("bert-base", 2, 60.0, 300.0, 165.0, 16.0, 400),
    Profile("llama-7b-lora", 4, 70.0, 400.0, 205.0, 24.0, 60),
    Profile("mnist-mlp", 0, 0.0, 0.0, 65.0, 6.0, 20_000),
)


@dataclass(frozen=True)
class SimulatedRun:
    run_id: str
    user_id: str
    region: str
    profile: Profile
    start_ms: int


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


def measurements(
    run: SimulatedRun, duration_s: int, interval_s: int, seed: int
) -> Iterator[Measurement]:
    """The measurements of one run over ``duration_s`` seconds, one per ``interval_s``."""
    rng = random.Random(f"{seed}/{run.run_id}")
    p = run.profile
    for seq, t_s in enumerate(range(0, duration_s, interval_s)):
        u = _utilisation(t_s, rng)
        gpu_w = p.gpus * (p.gpu_idle_w + (p.gpu_max_w - p.gpu_idle_w) * u)
        cpu_w = p.cpu_tdp_w * (0.3 + 0.5 * u)
        start = run.start_ms + t_s * 1000
        yield Measurement(
            run_id=run.run_id,
            seq=seq,
            interval_start_ms=start,
            ts_ms=start + interval_s * 1000,
            user_id=run.user_id,
            model=p.model,
            region=run.region,
            cpu_energy_j=quantize(cpu_w * interval_s),
            gpu_energy_j=quantize(gpu_w * interval_s),
            ram_energy_j=quantize(p.ram_w * interval_s),
            samples=int(p.samples_per_s * interval_s * u),
        )


def fleet(
    runs: int, duration_s: int, start_ms: int, seed: int = 42, interval_s: int = 1
) -> Iterator[Measurement]:
    """Every measurement of the fleet, merged in event-time order as the trainers would emit."""
    planned = plan_fleet(runs, start_ms, seed)
    streams = [measurements(r, duration_s, interval_s, seed) for r in planned]
    events = [e for stream in streams for e in stream]
    events.sort(key=lambda e: (e.ts_ms, e.run_id))
    yield from events
