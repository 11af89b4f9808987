"""A local Flink session cluster (JobManager + TaskManager from the PyFlink wheel) and job submit.

The wheel's stock configuration binds the REST endpoint to every interface; this module writes its
own configuration that binds 127.0.0.1 only, turns off the REST API's jar upload and run, and
points PyFlink at this virtual environment's Python.

The REST API answers anyone who reaches 127.0.0.1 and serves the files of the JobManager's log
folder. So the cluster logs to a folder of its own, the ``flink run`` client to another one that
REST does not serve, both get an allow-listed environment (``stack.environment``), and the client's
log configuration keeps the Python driver from logging the environment at all.
"""

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyflink

from joulestream.flink_jobs import flink_config
from stack import environment, fetch, jobjar, private, procs, tools
from stack.errors import ServiceError
from stack.mongouri import connection
from stack.settings import REPO_ROOT, StackSettings

JOB_NAME = "joulestream-pipeline"
JOBMANAGER_RPC_PORT = 6123
FLINK_HOME = Path(pyflink.__file__).resolve().parent


def _stock_java_opts() -> str:
    """The JVM flags of the wheel's own configuration: Java 17 needs its --add-opens list."""
    stock = (FLINK_HOME / "conf" / "config.yaml").read_text()
    match = re.search(r"^\s+all:\s*(--add-.+)$", stock, re.MULTILINE)
    if match is None:
        raise ServiceError(f"no env.java.opts.all in {FLINK_HOME / 'conf' / 'config.yaml'}")
    return match.group(1).strip()


def config_yaml(settings: StackSettings) -> str:
    """The cluster configuration (Flink 1.20 ``config.yaml``, flat keys): the job's own
    (``flink_jobs/flink_config.py``, shared with the FlinkDeployment) and a loopback cluster's."""
    state = settings.home / "flink"
    python = sys.executable
    options: dict[str, str | int | bool] = {
        **flink_config.FLINK_CONFIGURATION,
        "env.java.opts.all": _stock_java_opts(),
        "jobmanager.rpc.address": "127.0.0.1",
        "jobmanager.rpc.port": JOBMANAGER_RPC_PORT,
        "jobmanager.bind-host": "127.0.0.1",
        "jobmanager.memory.process.size": "1024m",
        "taskmanager.bind-host": "127.0.0.1",
        "taskmanager.host": "127.0.0.1",
        "taskmanager.memory.process.size": "2560m",
        # Each job loads the connector and job jars in a class loader of its own, and not all of
        # it is unloaded when the job ends: a session cluster running many test jobs in a row
        # ran out of the default 256 MB of metaspace.
        "taskmanager.memory.jvm-metaspace.size": "640m",
        "taskmanager.numberOfTaskSlots": 4,
        "parallelism.default": 1,
        "rest.address": "127.0.0.1",
        "rest.bind-address": "127.0.0.1",
        "rest.port": settings.flink_rest_port,
        "blob.server.port": "0",
        "state.checkpoints.dir": f"file://{state / 'checkpoints'}",
        "state.savepoints.dir": f"file://{state / 'savepoints'}",
        # A lost TaskManager is noticed within seconds (defaults: 10 s beats, 50 s timeout), so
        # a job recovers quickly; a loopback cluster has no network delays to tolerate.
        "heartbeat.interval": 2000,
        "heartbeat.timeout": 15000,
        # Without these PyFlink starts the system Python, which lacks the job's packages. The
        # job's own code is this environment's joulestream package (joulestream.flink_jobs, an
        # editable install of the checkout): no folder of the repository goes on the path.
        "python.executable": python,
        "python.client.executable": python,
        "env.pid.dir": str(settings.pids),
    }
    return "".join(f"{key}: {json.dumps(value)}\n" for key, value in options.items())


# Appended to the wheel's log4j files. PythonEnvUtils logs, at INFO, every variable it starts
# the job's Python with; Flink masks only names with password, secret, token or apikey in them, so
# a MONGODB_URI or any other setting would be written out. Quiet even for allow-listed values.
LOG4J_EXTRA = """
logger.joulestream_python_env.name = org.apache.flink.client.python.PythonEnvUtils
logger.joulestream_python_env.level = WARN
"""
# Log files created 0600 by log4j itself, whatever umask the JVM was started with.
_LOG4J_FILE_PERMISSIONS = {
    "log4j-cli.properties": "appender.file.filePermissions = rw-------\n",
    "log4j-console.properties": "appender.rolling.filePermissions = rw-------\n",
    "log4j.properties": "appender.main.filePermissions = rw-------\n",
}


def log4j_properties(name: str) -> str:
    """The wheel's ``conf/<name>`` with the Python environment logger quietened."""
    stock = (FLINK_HOME / "conf" / name).read_text()
    return stock.rstrip("\n") + "\n" + LOG4J_EXTRA + _LOG4J_FILE_PERMISSIONS.get(name, "")


def _conf_dir(settings: StackSettings) -> Path:
    """Write the configuration and log4j files; return their folder."""
    conf = private.make_dir(settings.home / "flink" / "conf")
    private.write_text(conf / "config.yaml", config_yaml(settings))
    for name in ("log4j-console.properties", "log4j-cli.properties", "log4j.properties"):
        if (FLINK_HOME / "conf" / name).exists():
            private.write_text(conf / name, log4j_properties(name))
    return conf


def cluster_log_dir(settings: StackSettings) -> Path:
    """The JobManager's and TaskManagers' logs: the REST API serves every file in here."""
    return settings.logs / "flink"


def client_log_dir(settings: StackSettings) -> Path:
    """The ``flink run`` client's logs, out of the REST API's reach."""
    return settings.logs / "flink-client"


def _flink_env(settings: StackSettings, inherited: dict[str, str], log_dir: Path) -> dict[str, str]:
    env = dict(inherited)
    env.update(
        FLINK_HOME=str(FLINK_HOME),
        FLINK_CONF_DIR=str(_conf_dir(settings)),
        FLINK_LOG_DIR=str(private.make_dir(log_dir)),
    )
    if "JAVA_HOME" not in env:
        java = tools.require("java")
        env["JAVA_HOME"] = str(Path(java).resolve().parent.parent)
    return env


def cluster_env(settings: StackSettings, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The JobManager's and TaskManager's environment: system variables and Flink's own."""
    return _flink_env(settings, environment.cluster_env(environ), cluster_log_dir(settings))


def client_env(
    settings: StackSettings, job_env: Mapping[str, str], environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """The ``flink run`` client's environment: system variables, the job's settings (``job_env``
    over those of ``environ``) and Flink's own. A ``MONGODB_URI`` with credentials is split
    (``stack.mongouri``), so no URI value carries them."""
    inherited = environment.client_env(environ)
    inherited.update(job_env)
    if "MONGODB_URI" in inherited:
        mongo = connection(
            inherited["MONGODB_URI"],
            inherited.get("MONGODB_USERNAME"),
            inherited.get("MONGODB_PASSWORD"),
        )
        inherited.update(mongo.env())
    return _flink_env(settings, inherited, client_log_dir(settings))


def _get(settings: StackSettings, path: str, timeout_s: float = 3.0) -> Any:  # noqa: ANN401
    url = settings.flink_rest_url + path
    with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 (loopback URL)
        return json.load(response)


def healthy(settings: StackSettings) -> bool:
    """True when the REST endpoint answers and at least one TaskManager is registered."""
    try:
        overview = _get(settings, "/overview")
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return int(overview.get("taskmanagers", 0)) >= 1


def jobs(settings: StackSettings) -> list[dict[str, Any]]:
    """The cluster's jobs as listed by ``/jobs/overview`` (empty when the cluster is down)."""
    try:
        listed: list[dict[str, Any]] = _get(settings, "/jobs/overview")["jobs"]
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return []
    return listed


def running_job(settings: StackSettings, name: str = JOB_NAME) -> str | None:
    """The id of the running (or starting) job called ``name``, if any."""
    for job in jobs(settings):
        if job.get("name") == name and job.get("state") in ("RUNNING", "CREATED", "RESTARTING"):
            return str(job["jid"])
    return None


def up(settings: StackSettings, timeout_s: float = 120.0) -> bool:
    """Start JobManager and TaskManager unless they run; True if this call started them."""
    started: list[str] = []
    env = cluster_env(settings)
    if procs.running_pid(settings, "flink-jobmanager") is None:
        procs.require_free_port(settings.flink_rest_port, "the Flink REST endpoint")
        procs.require_free_port(JOBMANAGER_RPC_PORT, "the Flink JobManager")
    for role in ("jobmanager", "taskmanager"):
        name = f"flink-{role}"
        if procs.running_pid(settings, name) is None:
            script = str(FLINK_HOME / "bin" / f"{role}.sh")
            procs.start(settings, name, ["bash", script, "start-foreground"], env=env)
            started.append(name)
    with procs.stopped_on_error(settings, started):
        procs.wait_until(
            lambda: healthy(settings), "Flink cluster", timeout_s, settings, "flink-jobmanager"
        )
    return bool(started)


def submit(
    settings: StackSettings,
    job_env: Mapping[str, str],
    job_name: str = JOB_NAME,
    savepoint: str | None = None,
    timeout_s: float = 180.0,
) -> str:
    """Submit the pipeline in detached mode and return its job id once it is RUNNING.

    ``job_env`` carries the job's settings (addresses, topic, database) in the environment, not
    as program arguments; with the variables the job reads from this process's environment and
    nothing else of it (``client_env``). Mind that connector errors print table options: what the
    job puts in them (never credentials) can reach the logs.
    """
    env = client_env(settings, {**job_env, "JOULESTREAM_JOB_NAME": job_name})
    argv = [
        str(FLINK_HOME / "bin" / "flink"), "run", "--detached",
        "-pyclientexec", sys.executable, "-pyexec", sys.executable,
    ]  # fmt: skip
    # Connector jars go on the user class path with -C: PythonDriver replaces any
    # -Dpipeline.jars with its own jar, so the planner would not find the connectors.
    for jar in [*fetch.jars(settings, "flink"), jobjar.build(settings)]:
        argv += ["-C", f"file://{jar}"]
    if savepoint:
        argv += ["--fromSavepoint", savepoint]
    argv += ["-pym", "joulestream.flink_jobs.pipeline"]
    result = subprocess.run(
        argv,
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        umask=private.UMASK,
    )
    log = settings.logs / f"submit-{job_name}.log"
    private.write_text(log, result.stdout + result.stderr)
    if result.returncode != 0:
        raise ServiceError(f"submitting {job_name} failed (exit {result.returncode}); see {log}")
    procs.wait_until(lambda: _job_state(settings, job_name) == "RUNNING", f"job {job_name}", 60.0)
    job_id = running_job(settings, job_name)
    if job_id is None:
        raise ServiceError(f"job {job_name} was submitted but is not running; see {log}")
    return job_id


def _job_state(settings: StackSettings, job_name: str) -> str | None:
    states = [j.get("state") for j in jobs(settings) if j.get("name") == job_name]
    if "FAILED" in states and "RUNNING" not in states:
        raise ServiceError(f"job {job_name} failed; see {settings.logs}")
    return "RUNNING" if "RUNNING" in states else None


def cancel(settings: StackSettings, job_id: str) -> None:
    """Cancel a job (its retained checkpoints stay on disk)."""
    request = urllib.request.Request(  # noqa: S310 (loopback URL)
        f"{settings.flink_rest_url}/jobs/{job_id}?mode=cancel", method="PATCH"
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 (loopback URL)
        pass


def _post(settings: StackSettings, path: str, body: dict[str, Any]) -> Any:  # noqa: ANN401
    request = urllib.request.Request(  # noqa: S310 (loopback URL)
        settings.flink_rest_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback URL)
        return json.load(response)


def checkpoints(settings: StackSettings, job_id: str) -> dict[str, Any]:
    """``/jobs/<id>/checkpoints``: counts, the latest completed and the one restored from."""
    stats: dict[str, Any] = _get(settings, f"/jobs/{job_id}/checkpoints")
    return stats


def job_state(settings: StackSettings, job_id: str) -> str:
    state: str = _get(settings, f"/jobs/{job_id}")["state"]
    return state


def stop_with_savepoint(settings: StackSettings, job_id: str, timeout_s: float = 120.0) -> str:
    """Stop a job with a savepoint (no drain: windows stay open) and return its location."""
    trigger = _post(settings, f"/jobs/{job_id}/stop", {"drain": False})["request-id"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = _get(settings, f"/jobs/{job_id}/savepoints/{trigger}")
        if status["status"]["id"] == "COMPLETED":
            operation = status["operation"]
            if "location" not in operation:
                raise ServiceError(f"savepoint of {job_id} failed: {operation}")
            location: str = operation["location"]
            return location
        time.sleep(0.5)
    raise ServiceError(f"no savepoint of {job_id} within {timeout_s} s")
