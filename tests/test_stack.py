from pathlib import Path

import pytest

from stack import flink, kafka, procs, tools
from stack.errors import MissingToolError, ServiceError
from stack.settings import StackSettings


def settings(**env: str) -> StackSettings:
    return StackSettings.from_env({"JOULESTREAM_HOME": "/tmp/js-home", **env})


def test_broker_has_single_node_transaction_settings():
    """Exactly-once needs one-replica internal topics and a long enough transaction timeout."""
    props = kafka.server_properties(settings(), Path("/tmp/data")).splitlines()
    for line in (
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "transaction.max.timeout.ms=3600000",
        "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
    ):
        assert line in props


def test_flink_binds_loopback_only():
    """The REST endpoint, RPC and data ports of the local cluster bind 127.0.0.1."""
    config = flink.config_yaml(settings()).splitlines()
    for key in ("rest.bind-address", "jobmanager.bind-host", "taskmanager.bind-host"):
        assert f'{key}: "127.0.0.1"' in config


def test_external_services_are_taken_from_the_environment():
    """KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI replace the local addresses."""
    s = settings(KAFKA_BOOTSTRAP_SERVERS="k:1", MONGODB_URI="mongodb://m:2/")
    assert (s.bootstrap_servers, s.mongo_uri) == ("k:1", "mongodb://m:2/")


def test_missing_tool_names_the_package(monkeypatch):
    """A missing program gives one line saying what to install."""
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MissingToolError, match="apt-get install maven"):
        tools.require("mvn")


def test_a_killed_service_is_reaped_and_no_longer_running(tmp_path: Path):
    """``procs.kill`` is a crash: the process group dies at once and is reaped (no zombie, no
    ``Popen`` left to report it as still running)."""
    s = settings(JOULESTREAM_HOME=str(tmp_path))
    pid = procs.start(s, "sleeper", ["sleep", "60"])
    assert procs.running_pid(s, "sleeper") == pid
    procs.kill(s, "sleeper")
    assert procs.running_pid(s, "sleeper") is None
    assert not Path(f"/proc/{pid}").exists()
    with pytest.raises(ServiceError, match="sleeper is not running"):
        procs.kill(s, "sleeper")
