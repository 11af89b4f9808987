import os
import stat
import time
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

from joulestream.schemas import defaults
from stack import environment, fetch, flink, jobjar, kafka, private, procs, services, tools
from stack.errors import ConfigError, MissingToolError, ServiceError
from stack.mongouri import MongoConnection, connection, split_credentials
from stack.settings import REPO_ROOT, StackSettings


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


def test_the_local_services_answer_where_every_part_looks_by_default():
    """With nothing set, the stack's Kafka and MongoDB are at ``schemas.defaults``' addresses,
    where the trainers, the job and the dashboard look for them; the ports can be moved."""
    s = settings()
    assert (s.bootstrap_servers, s.mongo_uri) == (
        defaults.KAFKA_BOOTSTRAP_SERVERS, defaults.MONGODB_URI
    )  # fmt: skip
    assert (s.bootstrap_servers, s.mongo_uri) == ("127.0.0.1:9092", "mongodb://127.0.0.1:27017/")
    moved = settings(JOULESTREAM_KAFKA_PORT="19092", JOULESTREAM_MONGO_PORT="27018")
    assert (moved.bootstrap_servers, moved.mongo_uri) == (
        "127.0.0.1:19092", "mongodb://127.0.0.1:27018/"
    )  # fmt: skip


def test_missing_tool_names_the_package(monkeypatch):
    """A missing program gives one line saying what to install."""
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MissingToolError, match="apt-get install maven"):
        tools.require("mvn")


POM = {"m": "http://maven.apache.org/POM/4.0.0"}
VERSIONS_POM = REPO_ROOT / "flink_jobs" / "java" / "versions" / "pom.xml"


def pom_dependencies(pom: Path, *, tests: bool = False) -> dict[str, dict[str, str]]:
    """Each dependency of a pom by artifactId: its version and scope as written (absent: "");
    the test-scoped ones only with ``tests`` (a test-jar shares its artifactId)."""
    root = ElementTree.parse(pom).getroot()
    return {
        d.findtext("m:artifactId", "", POM): {
            "version": d.findtext("m:version", "", POM),
            "scope": d.findtext("m:scope", "", POM),
        }
        for d in root.findall("m:dependencies/m:dependency", POM)
        if (d.findtext("m:scope", "", POM) == "test") == tests
    }


def test_the_connector_jars_and_the_job_jar_take_their_versions_from_one_pom():
    """The stack's connector pom and the job's Maven module both inherit the versions pom and
    write no Flink version of their own; the module takes Flink and the connector as provided."""
    stack_pom = fetch.MAVEN_DIR / "flink" / "pom.xml"
    module_pom = jobjar.MODULE / "pom.xml"
    assert fetch.poms(stack_pom) == [stack_pom, VERSIONS_POM]
    assert fetch.poms(module_pom) == [module_pom, VERSIONS_POM]
    managed = ElementTree.parse(VERSIONS_POM).getroot()
    assert managed.find("m:dependencies", POM) is None  # versions only, nothing inherited
    stack = pom_dependencies(stack_pom)
    assert set(stack) == {"flink-connector-kafka", "flink-sql-avro", "flink-connector-mongodb"}
    assert {d["version"] for d in stack.values()} == {""}
    module = {name: d for name, d in pom_dependencies(module_pom).items() if "flink" in name}
    assert {d["version"] for d in module.values()} == {""}
    assert {d["scope"] for d in module.values()} == {"provided"}
    assert {"flink-streaming-java", "flink-table-api-java-bridge"} <= set(module)
    # Flink's operator test harnesses, for the tests only, versioned by the same parent.
    harness = pom_dependencies(module_pom, tests=True)
    assert {"flink-streaming-java", "flink-runtime", "flink-test-utils-junit"} <= set(harness)
    assert {d["version"] for n, d in harness.items() if "flink" in n} == {""}


def test_the_job_jar_is_rebuilt_from_its_poms_and_main_sources_only():
    """The jar's cache key covers both poms and every main source and resource, no test."""
    names = [p.relative_to(jobjar.MODULE).as_posix() for p in jobjar.inputs()]
    assert names[:2] == ["pom.xml", "versions/pom.xml"]
    assert "src/main/resources/META-INF/services/org.apache.flink.table.factories.Factory" in names
    assert "src/main/java/io/joulestream/flink/GuardedMongoWriter.java" in names
    assert [n for n in names[2:] if not n.startswith("src/main/")] == []


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


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# A shell of a developer machine: system variables, job settings and secrets of other tools.
USER_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/home/dev",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "JAVA_HOME": "/usr/lib/jvm/java-17",
    "WANDB_API_KEY": "marker-wandb-key",
    "DATABASE_URL": "postgres://app:marker-db-password@db/app",
    "AWS_ACCESS_KEY_ID": "marker-aws-key",
    "JOULESTREAM_HOME": "/srv/js",
    "JOULESTREAM_RUN_WINDOW_S": "120",
    "MONGODB_URI": "mongodb://analyst:marker%40pw@mongo.example:27017/?authSource=admin",
}


def test_flink_client_gets_only_system_variables_and_the_jobs_settings(tmp_path: Path):
    """``flink run`` inherits the system variables and the settings the job reads; the secrets of
    other tools stay behind, and the MongoDB credentials travel apart from the URI."""
    s = settings(JOULESTREAM_HOME=str(tmp_path), MONGODB_URI=USER_ENV["MONGODB_URI"])
    env = flink.client_env(s, services.job_env(s), USER_ENV)
    assert env == {
        "PATH": "/usr/bin:/bin",
        "HOME": "/home/dev",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "JAVA_HOME": "/usr/lib/jvm/java-17",
        "JOULESTREAM_RUN_WINDOW_S": "120",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
        "JOULESTREAM_TOPIC": "training.events",
        "JOULESTREAM_GRID_TOPIC": "grid.intensity",
        "MONGODB_URI": "mongodb://mongo.example:27017/?authSource=admin",
        "MONGODB_USERNAME": "analyst",
        "MONGODB_PASSWORD": "marker@pw",
        "MONGODB_DATABASE": "joulestream",
        "FLINK_HOME": str(flink.FLINK_HOME),
        "FLINK_CONF_DIR": str(tmp_path / "flink" / "conf"),
        "FLINK_LOG_DIR": str(tmp_path / "logs" / "flink-client"),
    }


def test_flink_client_splits_a_uri_with_credentials_from_the_environment(tmp_path: Path):
    """A MONGODB_URI with ``user:password@`` that reaches the client env some other way than
    ``job_env`` is split too: no URI value given to Flink carries credentials."""
    s = settings(JOULESTREAM_HOME=str(tmp_path))
    env = flink.client_env(s, {}, {"JAVA_HOME": "/j", "MONGODB_URI": "mongodb://u:p@h/"})
    assert {k: v for k, v in env.items() if k.startswith("MONGODB")} == {
        "MONGODB_URI": "mongodb://h/",
        "MONGODB_USERNAME": "u",
        "MONGODB_PASSWORD": "p",
    }


def test_flink_cluster_gets_only_system_variables(tmp_path: Path):
    """The JobManager and TaskManager inherit no settings and no secrets, and log to a folder of
    their own (the REST API serves it), apart from the client's."""
    env = flink.cluster_env(settings(JOULESTREAM_HOME=str(tmp_path)), USER_ENV)
    assert env == {
        "PATH": "/usr/bin:/bin",
        "HOME": "/home/dev",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "JAVA_HOME": "/usr/lib/jvm/java-17",
        "FLINK_HOME": str(flink.FLINK_HOME),
        "FLINK_CONF_DIR": str(tmp_path / "flink" / "conf"),
        "FLINK_LOG_DIR": str(tmp_path / "logs" / "flink"),
    }


def test_every_variable_the_job_reads_is_allowed():
    """The allow-list follows ``JobSettings.from_env``: its settings and the credentials pass."""
    assert {
        "KAFKA_BOOTSTRAP_SERVERS",
        "JOULESTREAM_TOPIC",
        "JOULESTREAM_CONSUMER_GROUP",
        "JOULESTREAM_JOB_NAME",
        "JOULESTREAM_RUN_WINDOW_S",
        "JOULESTREAM_ROLLUP_S",
        "MONGODB_URI",
        "MONGODB_DATABASE",
        "MONGODB_USERNAME",
        "MONGODB_PASSWORD",
    } <= environment.job_names()
    assert not {"WANDB_API_KEY", "DATABASE_URL", "JOULESTREAM_HOME"} & environment.job_names()


def properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] != "#")
    return {key.strip(): value.strip() for key, value in pairs}


def test_flink_client_log_leaves_out_the_python_environment():
    """The client's log4j file sets PythonEnvUtils, whose INFO line lists the Python driver's
    environment, to WARN; that class in this Flink still writes that line."""
    props = properties(flink.log4j_properties("log4j-cli.properties"))
    loggers = {
        props[key]: props[key.removesuffix(".name") + ".level"]
        for key in props
        if key.startswith("logger.") and key.endswith(".name")
    }
    assert loggers["org.apache.flink.client.python.PythonEnvUtils"] == "WARN"
    assert props["appender.file.filePermissions"] == "rw-------"
    (jar,) = (flink.FLINK_HOME / "opt").glob("flink-python-*.jar")
    with zipfile.ZipFile(jar) as archive:
        code = archive.read("org/apache/flink/client/python/PythonEnvUtils.class")
    assert b"Starting Python process with environment variables" in code


def test_flink_rest_api_cannot_upload_or_run_jars():
    """``web.submit.enable`` is off: no /jars endpoints (``flink run`` posts to /jobs)."""
    assert "web.submit.enable: false" in flink.config_yaml(settings()).splitlines()


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("mongodb://127.0.0.1:27017/", MongoConnection("mongodb://127.0.0.1:27017/")),
        (
            "mongodb://job:s%3Acr%40t@m1:1,m2:2/db?replicaSet=rs",
            MongoConnection("mongodb://m1:1,m2:2/db?replicaSet=rs", "job", "s:cr@t"),
        ),
        (
            "mongodb+srv://job:pw@cluster.example?retryWrites=true",
            MongoConnection("mongodb+srv://cluster.example?retryWrites=true", "job", "pw"),
        ),
        ("mongodb://x509user@h/", MongoConnection("mongodb://h/", "x509user", None)),
    ],
)
def test_mongodb_credentials_are_taken_out_of_the_uri(uri: str, expected: MongoConnection):
    """User and password leave the URI, percent-decoded; the hosts, path and options stay."""
    assert split_credentials(uri) == expected


def test_mongodb_credentials_given_twice_must_agree():
    """The same credential in the URI and in MONGODB_PASSWORD may not differ; the error names the
    variables and neither secret."""
    assert connection("mongodb://u:p@h/", "u", "p") == MongoConnection("mongodb://h/", "u", "p")
    with pytest.raises(ConfigError, match="MONGODB_PASSWORD gives another one") as caught:
        connection("mongodb://u:marker-a@h/", None, "marker-b")
    assert "marker" not in str(caught.value)


@pytest.mark.parametrize(
    "uri",
    [
        "mongodb://h/?tls=true&tlsCertificateKeyFilePassword=marker",
        "mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:marker",
    ],
)
def test_a_uri_with_a_secret_option_is_refused(uri: str):
    """A secret that only an option of the URI can hold would reach Flink: refused."""
    with pytest.raises(ConfigError, match="holds a secret") as caught:
        split_credentials(uri)
    assert "marker" not in str(caught.value)


def test_mongodb_password_is_not_in_a_repr():
    """Settings and connections print without the password."""
    s = settings(MONGODB_URI="mongodb://u:marker-pw@h/", MONGODB_PASSWORD="marker-pw")
    assert "marker" not in repr(s.mongo_connection) + repr(settings(MONGODB_PASSWORD="marker-pw"))


def test_stack_files_are_private_whatever_the_umask(tmp_path: Path):
    """Folders the stack makes are 0700 and files it writes 0600, also under umask 000."""
    old = os.umask(0)
    try:
        private.write_text(tmp_path / "home" / "logs" / "x.log", "x")
    finally:
        os.umask(old)
    assert (mode(tmp_path / "home"), mode(tmp_path / "home" / "logs")) == (0o700, 0o700)
    assert mode(tmp_path / "home" / "logs" / "x.log") == 0o600


def test_readable_files_of_an_older_stack_are_made_private(tmp_path: Path):
    """``tighten`` takes group and other bits off what an earlier version left readable."""
    (tmp_path / "home" / "data").mkdir(parents=True, mode=0o755)
    (tmp_path / "home" / "data").chmod(0o755)
    (tmp_path / "home" / "data" / "spool.jsonl").write_text("{}")
    (tmp_path / "home" / "data" / "spool.jsonl").chmod(0o644)
    (tmp_path / "home" / "run.sh").write_text("")
    (tmp_path / "home" / "run.sh").chmod(0o755)
    private.tighten(tmp_path / "home")
    assert [mode(tmp_path / "home" / p) for p in ("", "data", "data/spool.jsonl", "run.sh")] == [
        0o700,
        0o700,
        0o600,
        0o700,
    ]


def test_services_create_private_files(tmp_path: Path):
    """A service runs with umask 077: its files, its log and the logs folder are private."""
    s = settings(JOULESTREAM_HOME=str(tmp_path / "home"))
    procs.start(s, "writer", ["sh", "-c", "echo data > out; echo done"], cwd=tmp_path)
    procs.wait_until(lambda: procs.running_pid(s, "writer") is None, "writer", 10.0)
    deadline = time.monotonic() + 10
    while (s.logs / "writer.log").read_text() != "done\n" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [mode(p) for p in (tmp_path / "out", s.logs / "writer.log", s.logs, s.pids)] == [
        0o600,
        0o600,
        0o700,
        0o700,
    ]
