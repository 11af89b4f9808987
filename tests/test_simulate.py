from emitter import simulate


def test_fleet_is_reproducible_from_its_seed():
    """The same seed gives the same events; another seed gives others."""
    first = list(simulate.fleet(3, 20, start_ms=0, seed=7))
    assert first == list(simulate.fleet(3, 20, start_ms=0, seed=7))
    assert first != list(simulate.fleet(3, 20, start_ms=0, seed=8))


def test_fleet_has_one_event_per_run_per_interval_in_event_time_order():
    """Three runs over 20 s at 1 s give 60 events, sorted by event time, seq from 0."""
    events = list(simulate.fleet(3, 20, start_ms=0, seed=7))
    assert len(events) == 60
    assert [e.ts_ms for e in events] == sorted(e.ts_ms for e in events)
    assert sorted(e.seq for e in events if e.run_id == "sim-7-0-001") == list(range(20))


def test_energies_are_exact_multiples_of_the_quantum():
    """Every energy is k * 2**-10 J, so sums are exact in any order."""
    for event in simulate.fleet(2, 30, start_ms=0, seed=1):
        for energy_j in (event.cpu_energy_j, event.gpu_energy_j, event.ram_energy_j):
            assert (energy_j / simulate.QUANTUM_J).is_integer()


def test_cpu_only_profile_uses_no_gpu_energy():
    """A model without GPUs reports zero GPU joules."""
    cpu_only = next(p for p in simulate.PROFILES if p.gpus == 0)
    run = simulate.SimulatedRun("r", "u", "FR", cpu_only, start_ms=0)
    assert {e.gpu_energy_j for e in simulate.measurements(run, 10, 1, seed=1)} == {0.0}
