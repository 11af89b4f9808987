from joulestream import simulate
from joulestream.events import Measurement, RunFinished, RunStarted

T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: a simulation may start at any valid time


def test_fleet_is_reproducible_from_its_seed():
    """The same seed gives the same events; another seed gives others."""
    first = list(simulate.fleet(3, 20, start_ms=T0_MS, seed=7))
    assert first == list(simulate.fleet(3, 20, start_ms=T0_MS, seed=7))
    assert first != list(simulate.fleet(3, 20, start_ms=T0_MS, seed=8))


def test_each_run_starts_measures_every_interval_and_finishes_in_order():
    """Three runs over 20 s at 1 s: a start, 20 measurements and a finish each, seq from 0, in
    event-time order."""
    events = list(simulate.fleet(3, 20, start_ms=T0_MS, seed=7))
    assert len(events) == 3 * 22
    assert [e.ts_ms for e in events] == sorted(e.ts_ms for e in events)
    run = [e for e in events if e.run_id == "sim-7-1767225600-001"]
    assert [e.seq for e in run] == list(range(22))
    assert isinstance(run[0], RunStarted)
    assert isinstance(run[-1], RunFinished)
    assert run[-1].status == "completed"
    assert all(isinstance(e, Measurement) for e in run[1:-1])


def test_energies_are_exact_multiples_of_the_quantum():
    """Every energy is k * 2**-10 J, so sums are exact in any order."""
    for event in simulate.measurements(list(simulate.fleet(2, 30, start_ms=T0_MS, seed=1))):
        for energy_j in (event.cpu_energy_j, event.gpu_energy_j, event.ram_energy_j):
            assert (energy_j / simulate.QUANTUM_J).is_integer()


def test_gpu_energy_is_the_sum_of_the_devices_and_zero_without_gpus():
    """Per-device energies add up to the total; a CPU-only model reports no GPU energy."""
    for profile in simulate.PROFILES:
        run = simulate.SimulatedRun("r", "u", "FR", profile, start_ms=T0_MS, seed=1)
        for event in simulate.measurements(list(simulate.run_events(run, 10))):
            assert len(event.gpus) == profile.gpus
            assert event.gpu_energy_j == sum(g.energy_j for g in event.gpus)


def test_training_progresses():
    """Steps grow, loss falls and accuracy rises over a run."""
    run = simulate.SimulatedRun("r", "u", "FR", simulate.PROFILES[0], start_ms=T0_MS, seed=1)
    series = simulate.measurements(list(simulate.run_events(run, 1200, interval_s=60)))
    assert [e.step for e in series] == sorted(e.step or 0 for e in series)
    assert (series[-1].loss or 0) < (series[0].loss or 0)
    assert (series[-1].accuracy or 0) > (series[0].accuracy or 0)
