"""``track``: what it checks before the command starts, and a command ended when the tracker
fails; with real child processes."""

import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import pytest

from joulestream import cli, track
from joulestream.meters.base import RaplUnavailableError
from joulestream.producer import ProducerStats
from tests.fakes import ListProducer, fake_meters
from tests.test_tracker import BrokenCpu

METERS = ["--cpu-meter", "tdp_model", "--ram-meter", "ram_model", "--gpu-meter", "none"]


class RecordingProducer(ListProducer):
    """Takes the producer's arguments and keeps the events; no Kafka."""

    made: ClassVar[list["RecordingProducer"]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.stats = ProducerStats()
        RecordingProducer.made.append(self)


@pytest.fixture
def producers(monkeypatch) -> list[RecordingProducer]:
    RecordingProducer.made = []
    monkeypatch.setattr("joulestream.track.EventProducer", RecordingProducer)
    return RecordingProducer.made


def run_track(*args: str) -> int:
    return cli.main(["track", "--model", "mlp", "--region", "FR", "--user", "u", *args])


def python(code: str) -> list[str]:
    return ["--", sys.executable, "-c", code]


def test_a_missing_command_is_one_line_and_127(producers, capsys):
    """Not on PATH: a one-line error, exit code 127, and nothing was started or sent."""
    assert run_track(*METERS, "--", "no-such-command-4a1f", "--lr", "1") == 127
    assert capsys.readouterr().err == (
        "error: command not found: no-such-command-4a1f (not on PATH)\n"
    )
    assert producers == []


def test_a_file_that_is_not_executable_is_126(producers, tmp_path: Path, capsys):
    """A path that exists but is not executable is refused like a shell does, with 126."""
    script = tmp_path / "train.sh"
    script.write_text("echo hi\n")
    script.chmod(0o644)
    assert run_track(*METERS, "--", str(script)) == 126
    assert capsys.readouterr().err == f"error: cannot run {script}: not an executable file\n"
    assert run_track(*METERS, "--", str(tmp_path / "nope.sh")) == 127


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--interval-s", "0"], "error: --interval-s must be > 0 and <= 3600, got 0\n"),
        (["--interval-s", "3601"], "error: --interval-s must be > 0 and <= 3600, got 3601\n"),
        (["--interval-s", "nan"], "error: --interval-s must be > 0 and <= 3600, got nan\n"),
        (["--kill-after-s", "-1"], "error: --kill-after-s must be >= 0, got -1\n"),
        (["--model", ""], "error: model must be a non-empty string, got ''\n"),
        (["--model", "m" * 257], "error: model is 257 characters, at most 256\n"),
        (
            ["--planned-steps", "0"],
            "error: planned_steps must be None or an int in [1, 1000000000000000], got 0\n",
        ),
    ],
)
def test_bad_arguments_are_refused_before_the_command_starts(
    args, message, producers, tmp_path: Path, capsys
):
    """Each bad argument is a one-line error with exit code 2; the command never ran."""
    marker = tmp_path / "ran"
    code = run_track(*METERS, *args, *python(f"open({str(marker)!r}, 'w')"))
    assert (code, capsys.readouterr().err) == (2, message)
    assert not marker.exists()


def test_no_command_is_a_usage_error(producers, capsys):
    assert run_track(*METERS) == 2
    assert capsys.readouterr().err == (
        "error: no command to track, e.g. `track -- python train.py`\n"
    )


def test_an_unusable_meter_is_refused_before_the_command_starts(
    producers, monkeypatch, tmp_path: Path, capsys
):
    """A meter named explicitly that cannot be used: exit code 2, the command never ran."""

    def no_rapl(*args: Any, **kwargs: Any) -> Any:
        raise RaplUnavailableError("/sys/class/powercap does not exist")

    monkeypatch.setattr("joulestream.track.select_meters", no_rapl)
    marker = tmp_path / "ran"
    assert run_track("--cpu-meter", "rapl", *python(f"open({str(marker)!r}, 'w')")) == 2
    assert capsys.readouterr().err == "error: /sys/class/powercap does not exist\n"
    assert not marker.exists()
    assert producers == []


def test_the_commands_exit_code_is_tracks_and_the_run_is_recorded(producers):
    """A command that fails with 3: track exits 3; run_started, measurements, run_finished
    'failed' with the code."""
    code = run_track(
        *METERS, "--interval-s", "0.1", *python("import time; time.sleep(0.35); exit(3)")
    )
    assert code == 3
    events = producers[0].events
    assert [e.EVENT_TYPE for e in events[:1] + events[-1:]] == ["run_started", "run_finished"]
    assert len(events) >= 4  # at least two measurements in 0.35 s at 0.1 s
    assert (events[-1].status, events[-1].reason) == ("failed", "exit code 3")


def test_the_plan_given_to_track_is_in_run_started(producers):
    """--planned-steps and --planned-epochs go into run_started."""
    code = run_track(*METERS, "--planned-steps", "1200", "--planned-epochs", "3", *python("0"))
    assert code == 0
    started = producers[0].events[0]
    assert (started.planned_steps, started.planned_epochs) == (1200, 3)


def broken_meters(*args: Any, load: Any = None, **kwargs: Any) -> Any:
    """Meters whose CPU counter fails after the tracker's first read (at its start)."""
    meters = fake_meters()
    meters.cpu = BrokenCpu(good_reads=1)
    meters.load = load
    return meters


class CpuThatBreaksOnceReady(BrokenCpu):
    """Reads fine until the file ``ready`` exists (after the tracker's first read), then fails
    as a vanished file would."""

    def __init__(self, ready: Path) -> None:
        super().__init__(good_reads=1)
        self.ready = ready

    def energy_j(self) -> float:
        self.reads += 1
        if self.reads > self.good_reads and self.ready.exists():
            raise OSError("energy_uj: No such device")
        return 0.0


def test_a_failing_tracker_ends_the_command_and_says_so(
    producers, monkeypatch, tmp_path: Path, capsys
):
    """The tracker fails while the command runs: the command, which ignores SIGTERM, is killed
    after the grace period; exit code 125; run_finished says why."""
    ready = tmp_path / "ready"

    def meters_that_break_once_ready(*args: Any, load: Any = None, **kwargs: Any) -> Any:
        meters = broken_meters(load=load)
        meters.cpu = CpuThatBreaksOnceReady(ready)
        return meters

    monkeypatch.setattr("joulestream.track.select_meters", meters_that_break_once_ready)
    # The tracker fails only once the command ignores SIGTERM: a command slow to start (a
    # loaded machine) would otherwise die of the SIGTERM, with no SIGKILL to report.
    stubborn = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"open({str(ready)!r}, 'w').close(); time.sleep(60)"
    )
    start_s = time.monotonic()
    code = run_track("--interval-s", "0.1", "--kill-after-s", "0.5", *python(stubborn))
    elapsed_s = time.monotonic() - start_s
    assert code == 125
    assert elapsed_s < 10
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "error: the tracker failed while the command ran (energy_uj: No such device); the "
        "command was ended (SIGTERM, then SIGKILL after 0.5 s)"
    )
    finished = producers[0].events[-1]
    assert (finished.status, finished.reason) == (
        "failed",
        "tracker failed: energy_uj: No such device",
    )


def test_a_command_that_stops_on_sigterm_is_not_killed(producers, monkeypatch, capsys):
    """An ordinary command stops at SIGTERM: no SIGKILL needed."""
    monkeypatch.setattr("joulestream.track.select_meters", broken_meters)
    code = run_track("--interval-s", "0.1", *python("import time; time.sleep(60)"))
    assert code == track.TRACKER_FAILED
    assert capsys.readouterr().err.splitlines()[0].endswith("the command was ended (SIGTERM)")


def test_the_end_line_gives_the_run_in_kwh_and_co2e(producers, monkeypatch, capsys):
    """track's last line is the tracker's summary (kWh, g CO2e, the figure that priced it),
    the methods, and where the events went."""
    monkeypatch.delenv("JOULESTREAM_SPOOL", raising=False)
    code = run_track(*METERS, "--run-id", "r-end", *python("pass"))
    assert code == 0
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("joulestream: run r-end used ")
    assert " g CO2e (FR, Ember 2023, PUE 1.0); measured by cpu tdp_model, ram ram_model; " in line
    assert line.endswith(
        "; 0 events delivered to training.events, 0 spooled to joulestream-spool.jsonl"
    )
