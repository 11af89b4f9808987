"""``joulestream doctor``: meters, spool and broker checks, and its exit status."""

import time
from types import SimpleNamespace

from joulestream import cli, doctor
from joulestream.meters.base import RaplUnavailableError

NO_BROKER = "127.0.0.1:1"


def test_a_writable_spool_folder_passes(tmp_path):
    assert doctor.check_spool(tmp_path / "s.jsonl") == (
        f"spool: {tmp_path / 's.jsonl'} (writable)",
        True,
    )


def test_a_spool_in_a_missing_folder_is_a_hard_problem(tmp_path):
    spool = tmp_path / "nowhere" / "s.jsonl"
    assert doctor.check_spool(spool) == (
        f"spool: error: folder {spool.parent} does not exist (JOULESTREAM_SPOOL={spool})",
        False,
    )


def test_a_broker_that_does_not_answer_is_a_warning_within_the_timeout():
    started = time.monotonic()
    line, ok = doctor.check_broker(NO_BROKER, "training.events", timeout_s=1.0)
    assert time.monotonic() - started < 2.5
    assert ok is None
    assert line.startswith(f"kafka: warning: {NO_BROKER} did not answer within 1 s (")
    assert line.endswith("runs will spool their events for `joulestream replay`")


class FakeClient:
    def __init__(self, config):
        self.config = config

    def list_topics(self, timeout):
        return SimpleNamespace(brokers={1: "b1", 2: "b2"}, topics={"training.events": None})


def test_a_broker_that_answers_says_whether_the_topic_is_listed():
    assert doctor.check_broker("k:9092", "training.events", client=FakeClient) == (
        "kafka: k:9092 answered (2 broker(s)); topic training.events exists",
        True,
    )
    line, ok = doctor.check_broker("k:9092", "other", client=FakeClient)
    assert (line, ok) == (
        "kafka: k:9092 answered (2 broker(s)); topic other is not listed (not created yet, or "
        "this login may not describe it)",
        True,
    )


def test_bad_kafka_settings_are_a_hard_problem(monkeypatch):
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "BOGUS")
    line, ok = doctor.check_broker("k:9092", "t", client=FakeClient)
    assert ok is False
    assert line.startswith("kafka: error: ")


def test_doctor_prints_every_finding_and_exits_0_without_a_broker(tmp_path, capsys):
    code = cli.main(
        [
            "doctor",
            "--bootstrap-servers",
            NO_BROKER,
            "--timeout-s",
            "1",
            "--spool",
            str(tmp_path / "s"),
        ]
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].startswith("host: ")
    assert out[1].startswith("psutil ")
    assert f"spool: {tmp_path / 's'} (writable)" in out
    assert out[-1].startswith(f"kafka: warning: {NO_BROKER} did not answer")


def test_doctor_exits_1_when_the_broker_is_required(tmp_path, capsys):
    argv = ["doctor", "--bootstrap-servers", NO_BROKER, "--timeout-s", "1", "--require-broker"]
    assert cli.main([*argv, "--spool", str(tmp_path / "s")]) == 1


def test_doctor_exits_1_for_a_meter_asked_for_that_cannot_be_used(tmp_path, monkeypatch, capsys):
    def no_rapl(*args, **kwargs):
        raise RaplUnavailableError("no powercap here")

    monkeypatch.setattr("joulestream.doctor.select_meters", no_rapl)
    monkeypatch.setattr("joulestream.doctor.check_broker", lambda *a: ("kafka: ok", True))
    code = cli.main(["doctor", "--cpu-meter", "rapl", "--spool", str(tmp_path / "s")])
    assert code == 1
    assert capsys.readouterr().out.splitlines()[0] == "meters: error: no powercap here"


def test_doctor_exits_1_when_the_spool_cannot_be_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("joulestream.doctor.check_broker", lambda *a: ("kafka: ok", True))
    code = cli.main(["doctor", "--spool", str(tmp_path / "missing" / "s")])
    assert code == 1


def test_a_setting_in_the_environment_that_cannot_be_used_is_one_clear_line(monkeypatch, capsys):
    """Every command reads its defaults from the environment once: a bad one exits 2 and says
    which, before any command runs."""
    monkeypatch.setenv("JOULESTREAM_CPU_POWER_W", "fast")
    assert cli.main(["doctor"]) == 2
    assert capsys.readouterr().err == (
        "joulestream: JOULESTREAM_CPU_POWER_W must be a number, got 'fast'\n"
    )
