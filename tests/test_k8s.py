"""Offline checks of the Kubernetes deployment in k8s/flink-operator (no cluster needed)."""

import base64
import copy
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate
import pytest
import yaml

from joulestream.flink_jobs import flink_config, sql
from joulestream.flink_jobs.settings import JobSettings
from joulestream.flink_jobs.sql import outputs
from joulestream.schemas.documents import INDEXES
from stack import flink, packages
from stack.settings import REPO_ROOT, StackSettings
from tests.k8s import code, crd, security
from tests.k8s.acls import container_env, script_acls
from tests.k8s.netpol import Pod, reaches
from tests.k8s.render import (
    BASE,
    K8S_DIR,
    OVERLAYS,
    Document,
    Kustomization,
    decoded,
    file_problems,
    render,
)
from tests.k8s.workloads import one, pod_labels, pod_specs

KUBERNETES_VERSION = "1.33"
PYTHON_DRIVER = "org.apache.flink.client.python.PythonDriver"
# Read by the mongo image's entrypoint itself, not by a script of ours.
IMAGE_READS = {"MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD"}
TREES = {"base": BASE, **OVERLAYS}
DEPLOYABLE = sorted(OVERLAYS)
IMAGES = K8S_DIR / "images"
NAMESPACE = "joulestream"


@pytest.fixture(scope="module")
def flink_crd() -> dict[str, Any]:
    return crd.load_crd()


def rendered(overlay: str) -> list[Document]:
    return render(TREES[overlay])


def program(doc: Document, container: dict[str, Any]) -> str | None:
    """The folder of this repository whose code a container runs (``python -m joulestream`` is
    emitter, ``-pym joulestream.flink_jobs.pipeline`` flink_jobs)."""
    argv = [*container.get("command", []), *container.get("args", [])]
    if doc["kind"] == "FlinkDeployment":
        argv = doc["spec"]["job"]["args"]
    for flag in ("-m", "-pym"):
        if flag in argv:
            return packages.part_of(str(argv[argv.index(flag) + 1]))
    return None


def provided_env(docs: list[Document], container: dict[str, Any]) -> set[str]:
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            names |= set(one(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
        if "secretRef" in source:
            names |= set(one(docs, "Secret", source["secretRef"]["name"])["data"])
    return names


def shell_reads(script: str, name: str) -> bool:
    """Whether a shell script expands the variable ``name`` (``$NAME`` or ``${NAME}``)."""
    return re.search(rf"\$(\{{{name}\}}|{name}\b)", script) is not None


def env_problems(docs: list[Document]) -> list[str]:
    """Settings the code reads that nothing sets (and README gives no default for), settings set
    that the code never reads, and ConfigMap or Secret keys that no container consumes."""
    problems = []
    documented = code.documented_defaults()
    consumed: set[tuple[str, str, str]] = set()
    for doc in docs:
        for spec in pod_specs(doc):
            mounted = [v["configMap"]["name"] for v in spec.get("volumes", []) if "configMap" in v]
            for container in spec["containers"]:
                where = f"{doc['kind']}/{doc['metadata']['name']}"
                package = program(doc, container)
                reads = code.env_reads(package) if package is not None else None
                for source in container.get("envFrom", []):
                    for kind, ref in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                        if ref in source:
                            data = one(docs, kind, source[ref]["name"])["data"]
                            used = [k for k in data if reads is None or k in reads]
                            consumed |= {(kind, source[ref]["name"], key) for key in used}
                for entry in container.get("env", []):
                    ref = entry.get("valueFrom", {})
                    for kind, key_ref in (
                        ("ConfigMap", "configMapKeyRef"),
                        ("Secret", "secretKeyRef"),
                    ):
                        if key_ref in ref:
                            consumed.add((kind, ref[key_ref]["name"], ref[key_ref]["key"]))
                if package is not None and reads is not None:
                    provided = provided_env(docs, container)
                    for name in sorted(reads - provided - documented):
                        problems.append(f"{where}: {package} reads {name}, unset and undocumented")
                    for name in sorted(provided - reads):
                        problems.append(f"{where}: {name} is set but {package} never reads it")
                else:
                    scripts = "".join(
                        "".join(one(docs, "ConfigMap", name)["data"].values()) for name in mounted
                    )
                    argv = " ".join([*container.get("command", []), *container.get("args", [])])
                    for entry in container.get("env", []):
                        name = entry["name"]
                        referenced = (
                            f"$({name})" in argv
                            or f"process.env.{name}" in scripts
                            or any(shell_reads(text, name) for text in (argv, scripts))
                        )
                        if "valueFrom" in entry and not referenced and name not in IMAGE_READS:
                            problems.append(f"{where}: {name} is set but nothing reads it")
            consumed |= {
                ("ConfigMap", n, key) for n in mounted for key in one(docs, "ConfigMap", n)["data"]
            }
    for doc in docs:
        if doc["kind"] in ("ConfigMap", "Secret"):
            for key in doc["data"]:
                if (doc["kind"], doc["metadata"]["name"], key) not in consumed:
                    problems.append(
                        f"{doc['kind']}/{doc['metadata']['name']}: {key} is read by nothing"
                    )
    return problems


# --- kustomize structure ---------------------------------------------------------------------


@pytest.mark.parametrize("tree", sorted(TREES))
def test_kustomization_lists_exactly_the_files_beside_it(tree):
    """Every file a kustomization names exists and every file in its folder is named in it."""
    k = Kustomization.read(TREES[tree])
    assert (k.unknown_keys(), file_problems(k)) == (set(), [])


def test_an_unlisted_manifest_is_reported(tmp_path):
    """A manifest dropped beside a kustomization without being listed is an orphan."""
    for path in BASE.iterdir():
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "forgotten.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    assert file_problems(Kustomization.read(tmp_path)) == [
        f"{tmp_path.name}: forgotten.yaml is not in kustomization.yaml"
    ]


def test_production_credentials_are_never_committed():
    """The production overlay ships only .env.example files and git-ignores the real ones."""
    production = OVERLAYS["production"]
    assert sorted(p.name for p in production.glob("*.env*")) == [
        "kafka-credentials.env.example", "mongodb-credentials.env.example",
    ]  # fmt: skip
    assert "/*.env" in (production / ".gitignore").read_text().splitlines()


# --- schemas -----------------------------------------------------------------------------------


@pytest.mark.parametrize("tree", sorted(TREES))
def test_every_manifest_validates_against_the_kubernetes_schemas(tree):
    """Each rendered built-in resource passes the Kubernetes schema in strict mode."""
    for doc in rendered(tree):
        if doc["kind"] != "FlinkDeployment":
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_kubernetes_validation_rejects_an_unknown_field():
    """A misspelt container field fails strict validation, so the check above can fail."""
    doc = copy.deepcopy(one(rendered("base"), "Deployment", "dashboard"))
    doc["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("tree", sorted(TREES))
def test_flink_deployment_validates_against_the_operator_crd(tree, flink_crd):
    """The rendered FlinkDeployment conforms to the operator's CRD with unknown fields rejected."""
    doc = one(rendered(tree), "FlinkDeployment", "joulestream-pipeline")
    assert crd.errors(doc, flink_crd) == []


def test_crd_check_rejects_unknown_fields_and_values(flink_crd):
    """An unknown field (at any depth) and a value outside an enum are both reported."""
    doc = copy.deepcopy(one(rendered("base"), "FlinkDeployment", "joulestream-pipeline"))
    doc["spec"]["job"]["upgradeMode"] = "last_state"
    doc["spec"]["job"]["autoscaler"] = True
    doc["spec"]["podTemplate"]["spec"]["containers"][0]["envFromm"] = []
    assert crd.errors(doc, flink_crd) == [
        "spec.job: Additional properties are not allowed ('autoscaler' was unexpected)",
        "spec.job.upgradeMode: 'last_state' is not one of ['last-state', 'savepoint', 'stateless']",
        "spec.podTemplate.spec.containers.0: Additional properties are not allowed "
        "('envFromm' was unexpected)",
    ]


# --- the job -----------------------------------------------------------------------------------


def test_flink_deployment_runs_the_python_job_with_exactly_once_checkpoints_and_ha():
    """PythonDriver starts flink_jobs.pipeline; checkpoints, savepoints and HA are configured."""
    spec = one(rendered("base"), "FlinkDeployment", "joulestream-pipeline")["spec"]
    conf = spec["flinkConfiguration"]
    assert (spec["flinkVersion"], spec["job"]["entryClass"], spec["job"]["args"]) == (
        "v1_20", PYTHON_DRIVER, ["-pym", "joulestream.flink_jobs.pipeline"],
    )  # fmt: skip
    assert (spec["job"]["upgradeMode"], spec["job"]["state"]) == ("last-state", "running")
    assert {k: conf[k] for k in (
        "execution.checkpointing.interval", "execution.checkpointing.mode",
        "state.checkpoints.dir", "state.savepoints.dir", "high-availability.type",
    )} == {
        "execution.checkpointing.interval": "10s",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        "state.checkpoints.dir": "file:///flink-data/checkpoints",
        "state.savepoints.dir": "file:///flink-data/savepoints",
        "high-availability.type": "kubernetes",
    }  # fmt: skip
    mount = spec["podTemplate"]["spec"]["containers"][0]["volumeMounts"][0]["mountPath"]
    for key in ("state.checkpoints.dir", "state.savepoints.dir", "high-availability.storageDir"):
        assert conf[key].startswith(f"file://{mount}/")
    assert spec["podTemplate"]["spec"]["containers"][0]["name"] == "flink-main-container"


def test_every_flink_configuration_value_is_a_string():
    """The operator's CRD types flinkConfiguration values as strings in every overlay."""
    for tree in TREES:
        conf = one(rendered(tree), "FlinkDeployment", "joulestream-pipeline")["spec"][
            "flinkConfiguration"
        ]
        assert [k for k, v in conf.items() if not isinstance(v, str)] == []


# --- one Flink configuration -------------------------------------------------------------------

# Keys that the local cluster (stack/flink.py) and the FlinkDeployment may set apart from
# flink_jobs/flink_config.py, and why. Every other key either side sets must be one of
# flink_config.FLINK_CONFIGURATION, with its value.
#
# Set on both sides, with values of their own:
DIFFERENT_VALUES = {
    # Sizing: four slots on one loopback TaskManager; two per pod on Kubernetes (one in the
    # local overlay), the job's parallelism in spec.job.parallelism.
    "taskmanager.numberOfTaskSlots",
    # Paths: the stack's home on this machine; the state volume mounted at /flink-data.
    "state.checkpoints.dir",
    "state.savepoints.dir",
    # The virtual environment of this checkout; the image's /opt/venv.
    "python.executable",
    "python.client.executable",
}
# Only the local cluster, a JobManager and a TaskManager from the PyFlink wheel on 127.0.0.1:
LOCAL_ONLY = {
    # The wheel's own --add-opens list for Java 17, read from its config.yaml (the Flink image
    # and the operator bring their own JVM options).
    "env.java.opts.all",
    # Loopback addresses and ports; the operator sets the pods' addresses and Services.
    "jobmanager.rpc.address",
    "jobmanager.rpc.port",
    "jobmanager.bind-host",
    "taskmanager.bind-host",
    "taskmanager.host",
    "rest.address",
    "rest.bind-address",
    "rest.port",
    "blob.server.port",
    # Memory: on Kubernetes spec.jobManager.resource and spec.taskManager.resource.
    "jobmanager.memory.process.size",
    "taskmanager.memory.process.size",
    # A session cluster runs many jobs in a row (the tests), and class loaders leak metaspace;
    # the FlinkDeployment runs one job per cluster (application mode).
    "taskmanager.memory.jvm-metaspace.size",
    # On Kubernetes spec.job.parallelism.
    "parallelism.default",
    # A lost TaskManager noticed within seconds: a loopback cluster has no network delays.
    "heartbeat.interval",
    "heartbeat.timeout",
    # The stack's pid files.
    "env.pid.dir",
}
# Only the FlinkDeployment:
CLUSTER_ONLY = {
    # Three checkpoints kept for last-state upgrades and manual restores; the local cluster
    # keeps Flink's default one (what its restore tests use).
    "execution.checkpointing.num-retained",
    # RocksDB, incremental, for state larger than a pod's memory; the local cluster keeps its
    # state on the heap (Flink's default backend).
    "state.backend.type",
    "state.backend.incremental",
    # Kubernetes HA: a JobManager's leader and latest checkpoint survive its pod.
    "high-availability.type",
    "high-availability.storageDir",
    # Pods: the TaskManagers' service account and resource limits.
    "kubernetes.taskmanager.service-account",
    "kubernetes.jobmanager.cpu.limit-factor",
    "kubernetes.jobmanager.memory.limit-factor",
    "kubernetes.taskmanager.cpu.limit-factor",
    "kubernetes.taskmanager.memory.limit-factor",
}


def local_flink_configuration() -> dict[str, Any]:
    """The local cluster's config.yaml as stack/flink.py writes it."""
    settings = StackSettings.from_env({"JOULESTREAM_HOME": "/tmp/js-home"})
    conf: dict[str, Any] = yaml.safe_load(flink.config_yaml(settings))
    return conf


def flink_configuration_problems(conf: dict[str, Any], expected_extra: set[str]) -> list[str]:
    """Shared keys missing from ``conf`` or set to another value, and keys ``conf`` sets that
    are neither shared nor listed in ``expected_extra``; values compared as Flink reads them."""
    shared = flink_config.FLINK_CONFIGURATION
    problems = [
        f"{key}: {conf[key]!r}, flink_config.py says {shared[key]!r}"
        if key in conf
        else f"{key}: missing, flink_config.py says {shared[key]!r}"
        for key in shared
        if key not in conf
        or flink_config.flink_string(conf[key]) != flink_config.flink_string(shared[key])
    ]
    problems += [
        f"{key}: neither in flink_config.py nor listed as differing"
        for key in sorted(set(conf) - set(shared) - expected_extra)
    ]
    return problems


@pytest.mark.parametrize("tree", sorted(TREES))
def test_flink_deployment_has_the_shared_flink_configuration(tree):
    """Every overlay's flinkConfiguration has flink_config.py's keys with its values, and any
    other key is one listed as differing on Kubernetes."""
    conf = one(rendered(tree), "FlinkDeployment", "joulestream-pipeline")["spec"][
        "flinkConfiguration"
    ]
    assert flink_configuration_problems(conf, DIFFERENT_VALUES | CLUSTER_ONLY) == []


def test_local_cluster_has_the_shared_flink_configuration():
    """stack/flink.py writes flink_config.py's keys with its values, and any other key is one
    listed as differing locally."""
    conf = local_flink_configuration()
    assert flink_configuration_problems(conf, DIFFERENT_VALUES | LOCAL_ONLY) == []


def test_differing_keys_are_set_where_they_are_listed():
    """The lists of differing keys hold no stale name: each is set where it says, never shared."""
    cluster = one(rendered("base"), "FlinkDeployment", "joulestream-pipeline")["spec"][
        "flinkConfiguration"
    ]
    local = local_flink_configuration()
    shared = set(flink_config.FLINK_CONFIGURATION)
    assert (
        DIFFERENT_VALUES - (set(cluster) & set(local)),
        LOCAL_ONLY - (set(local) - set(cluster)),
        CLUSTER_ONLY - (set(cluster) - set(local)),
        (DIFFERENT_VALUES | LOCAL_ONLY | CLUSTER_ONLY) & shared,
    ) == (set(), set(), set(), set())


def test_flink_configuration_check_reports_a_changed_a_missing_and_an_unlisted_key():
    """A shared value changed, a shared key dropped and a key nobody listed are reported."""
    docs = rendered("production")
    conf = one(docs, "FlinkDeployment", "joulestream-pipeline")["spec"]["flinkConfiguration"]
    conf["execution.checkpointing.interval"] = "60s"
    del conf["restart-strategy.type"]
    conf["pipeline.max-parallelism"] = "128"
    assert flink_configuration_problems(conf, DIFFERENT_VALUES | CLUSTER_ONLY) == [
        "execution.checkpointing.interval: '60s', flink_config.py says '10s'",
        "restart-strategy.type: missing, flink_config.py says 'exponential-delay'",
        "pipeline.max-parallelism: neither in flink_config.py nor listed as differing",
    ]


def test_flink_string_writes_values_as_the_operator_takes_them():
    """Booleans are lower-case words, numbers their digits, text itself."""
    assert [flink_config.flink_string(v) for v in (False, True, 3, "10s")] == [
        "false", "true", "3", "10s",
    ]  # fmt: skip


# --- drift ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("tree", DEPLOYABLE)
def test_settings_the_code_reads_are_exactly_the_settings_provided(tree):
    """Every variable the code reads is set or documented, and every ConfigMap key is read."""
    assert env_problems(rendered(tree)) == []


def test_drift_check_reports_a_missing_and_an_unread_setting():
    """Dropping a key the job reads and adding one nobody reads are both reported."""
    docs = rendered("local")
    data = one(docs, "ConfigMap", "pipeline-config")["data"]
    del data["JOULESTREAM_JOB_NAME"]
    data["JOULESTREAM_UNUSED"] = "1"
    assert env_problems(docs) == [
        "FlinkDeployment/joulestream-pipeline: flink_jobs reads JOULESTREAM_JOB_NAME, "
        "unset and undocumented",
        "FlinkDeployment/joulestream-pipeline: JOULESTREAM_UNUSED is set but flink_jobs never "
        "reads it",
        "ConfigMap/pipeline-config: JOULESTREAM_UNUSED is read by nothing",
    ]


def test_env_scan_finds_reads_through_an_environment_mapping():
    """The scan sees os.environ.get, os.getenv, os.environ[...] and a mapping bound to environ."""
    source = (
        "import os\n"
        "def f(env=None):\n"
        "    e = os.environ if env is None else env\n"
        "    run = {}\n"
        "    return (e.get('A'), os.getenv('B'), os.environ['C'],\n"
        "            os.environ.get('D'), run.get('x'))\n"
    )
    assert code.env_reads_in(source) == {"A", "B", "C", "D"}


@pytest.mark.parametrize("tree", DEPLOYABLE)
def test_shared_settings_have_one_value(tree):
    """A key that several ConfigMaps carry (topic, servers, database) has the same value in all."""
    values: dict[str, set[str]] = {}
    for doc in rendered(tree):
        if doc["kind"] == "ConfigMap":
            for key, value in doc["data"].items():
                values.setdefault(key, set()).add(value)
    assert {k: v for k, v in values.items() if len(v) > 1} == {}


@pytest.mark.parametrize("tree", DEPLOYABLE)
def test_references_between_manifests_resolve(tree):
    """Every ConfigMap, Secret, key, claim, service account, role binding and Service selector
    points at something that exists."""
    docs = rendered(tree)
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    missing = []
    for doc in docs:
        for spec in pod_specs(doc):
            for volume in spec.get("volumes", []):
                if "configMap" in volume:
                    missing.append(("ConfigMap", volume["configMap"]["name"]))
                if "persistentVolumeClaim" in volume:
                    missing.append(
                        ("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
                    )
            for container in spec["containers"]:
                for entry in container.get("env", []):
                    ref = entry.get("valueFrom", {})
                    for kind, key_ref in (
                        ("ConfigMap", "configMapKeyRef"),
                        ("Secret", "secretKeyRef"),
                    ):
                        if key_ref in ref:
                            target = one(docs, kind, ref[key_ref]["name"])
                            assert ref[key_ref]["key"] in target["data"], (doc["metadata"], ref)
                for source in container.get("envFrom", []):
                    if "configMapRef" in source:
                        missing.append(("ConfigMap", source["configMapRef"]["name"]))
            if "serviceAccountName" in spec:
                missing.append(("ServiceAccount", spec["serviceAccountName"]))
        if doc["kind"] == "FlinkDeployment":
            missing.append(("ServiceAccount", doc["spec"]["serviceAccount"]))
            conf = doc["spec"]["flinkConfiguration"]
            missing.append(("ServiceAccount", conf["kubernetes.taskmanager.service-account"]))
        if doc["kind"] == "RoleBinding":
            missing.append((doc["roleRef"]["kind"], doc["roleRef"]["name"]))
            missing += [(subject["kind"], subject["name"]) for subject in doc["subjects"]]
        if doc["kind"] == "Service":
            pods = [
                d["spec"]["template"]["metadata"]["labels"]
                for d in docs
                if d["kind"] in ("Deployment", "StatefulSet")
            ]
            assert any(doc["spec"]["selector"].items() <= labels.items() for labels in pods), doc
    assert sorted(set(missing) - names) == []


def _statefulset_address(docs: list[Document], host: str, port: int) -> tuple[str, int]:
    """Resolve ``<set>-<n>.<service>[.<namespace>]:port`` to the container port it reaches."""
    pod, service_name, *namespace = host.split(".")
    assert namespace in ([], [NAMESPACE]), host
    statefulset_name, _, ordinal = pod.rpartition("-")
    statefulset = one(docs, "StatefulSet", statefulset_name)
    service = one(docs, "Service", service_name)
    assert statefulset["spec"]["serviceName"] == service_name
    assert int(ordinal) < statefulset["spec"]["replicas"]
    (service_port,) = [p for p in service["spec"]["ports"] if p["port"] == port]
    container_ports = {
        p["name"]: p["containerPort"]
        for c in statefulset["spec"]["template"]["spec"]["containers"]
        for p in c["ports"]
    }
    return statefulset_name, container_ports[service_port["targetPort"]]


@pytest.mark.parametrize("tree", DEPLOYABLE)
def test_kafka_address_reaches_the_broker_it_advertises(tree):
    """KAFKA_BOOTSTRAP_SERVERS names the broker pod through its headless Service, on the port the
    broker listens on and advertises."""
    docs = rendered(tree)
    (servers,) = {
        d["data"]["KAFKA_BOOTSTRAP_SERVERS"]
        for d in docs
        if "KAFKA_BOOTSTRAP_SERVERS" in d.get("data", {})
    }
    host, port = servers.rsplit(":", 1)
    assert _statefulset_address(docs, host, int(port)) == ("kafka", int(port))
    config = one(docs, "ConfigMap", "kafka-config")["data"]
    server = security.properties(config["server.properties"])
    assert server["advertised.listeners"] == f"CLIENT://{servers}"
    assert f"CLIENT://:{port}" in server["listeners"].split(",")


@pytest.mark.parametrize("tree", DEPLOYABLE)
def test_mongodb_clients_log_in_as_the_users_the_init_script_creates(tree):
    """The job logs in as the read-write user and the dashboard as the read-only one, with the
    names and passwords of mongodb-credentials, to the configured database on the MongoDB pod,
    whose URI carries no credentials."""
    docs = rendered(tree)
    script = "".join(one(docs, "ConfigMap", "mongodb-init")["data"].values())
    for kind, name, user, role, config in (
        ("FlinkDeployment", "joulestream-pipeline", "app", "readWrite", "pipeline-config"),
        ("Deployment", "dashboard", "dashboard", "read", "dashboard-config"),
    ):
        (spec, *_) = pod_specs(one(docs, kind, name))
        env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in spec["containers"][0]["env"]}
        data = one(docs, "ConfigMap", config)["data"]
        uri = urlsplit(data["MONGODB_URI"])
        env_user = f"JOULESTREAM_{user.upper()}_USERNAME"
        assert (env["MONGODB_USERNAME"], env["MONGODB_PASSWORD"]) == (
            {"name": "mongodb-credentials", "key": f"{user}-username"},
            {"name": "mongodb-credentials", "key": f"{user}-password"},
        )
        assert (uri.username, uri.password) == (None, None)
        database = data["MONGODB_DATABASE"]
        assert (uri.path, parse_qs(uri.query)["authSource"]) == (f"/{database}", [database])
        assert _statefulset_address(docs, str(uri.hostname), int(uri.port or 0)) == (
            "mongodb",
            27017,
        )
        assert re.search(
            rf"user: process\.env\.{env_user},\s*\n.*\n\s*roles: \[\{{ role: \"{role}\"", script
        )


def test_init_script_creates_the_indexes_of_the_documents_contract():
    """The MongoDB init script creates exactly the indexes schemas/documents.py declares."""
    script = "".join(one(rendered("base"), "ConfigMap", "mongodb-init")["data"].values())
    created = {
        (collection, tuple((f, int(d)) for f, d in re.findall(r"(\w+): (-?1)", keys)))
        for collection, keys in re.findall(r"\.(\w+)\.createIndex\(\{([^}]*)\}\)", script)
    }
    declared = {(c, tuple(key)) for c, keys in INDEXES.items() for key in keys}
    assert created == declared


@pytest.mark.parametrize("tree", DEPLOYABLE)
def test_dashboard_service_reaches_the_port_the_dashboard_binds(tree):
    """The Service's target port is the container port that DASH_PORT names, on 0.0.0.0."""
    docs = rendered(tree)
    config = one(docs, "ConfigMap", "dashboard-config")["data"]
    (container,) = one(docs, "Deployment", "dashboard")["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    (service_port,) = one(docs, "Service", "dashboard")["spec"]["ports"]
    assert (ports[service_port["targetPort"]], config["DASH_HOST"]) == (
        int(config["DASH_PORT"]),
        "0.0.0.0",
    )


# --- security ----------------------------------------------------------------------------------

# Workloads whose pods use their service-account token, and why.
TOKEN_USERS = {
    "FlinkDeployment/joulestream-pipeline": "the JobManager creates its TaskManager pods and "
    "keeps HA state in ConfigMaps; the TaskManagers watch those ConfigMaps for the leader",
}
# The labels Flink gives the pods of a native Kubernetes cluster (its id: the FlinkDeployment).
FLINK_POD = {"app": "joulestream-pipeline", "type": "flink-native-kubernetes"}
OPERATOR_NAMESPACE = "flink-operator"
TRAINER = {"joulestream.io/trainer": "true"}


def dashboard_container(docs: list[Document]) -> dict[str, Any]:
    container: dict[str, Any] = one(docs, "Deployment", "dashboard")["spec"]["template"]["spec"][
        "containers"
    ][0]
    return container


@pytest.mark.parametrize("tree", sorted(TREES))
def test_every_container_runs_unprivileged_on_a_read_only_root(tree):
    """Every container runs as a non-root user id, cannot gain privileges, drops every
    capability, uses the runtime's seccomp profile and cannot write its image."""
    assert security.security_context_problems(rendered(tree)) == []


def test_security_context_check_names_each_missing_setting():
    """A container that may escalate, keeps a capability, writes its root filesystem and has
    no seccomp profile, and a pod with a host path, are each reported."""
    docs = rendered("local")
    container = dashboard_container(docs)
    context = container["securityContext"]
    del context["allowPrivilegeEscalation"], context["seccompProfile"]
    context["readOnlyRootFilesystem"] = False
    context["capabilities"]["add"] = ["NET_ADMIN"]
    context["runAsUser"] = 0
    one(docs, "Job", "fleet")["spec"]["template"]["spec"]["volumes"].append(
        {"name": "host", "hostPath": {"path": "/"}}
    )
    assert security.security_context_problems(docs) == [
        "Deployment/dashboard dashboard: runAsUser is not a non-root user id",
        "Deployment/dashboard dashboard: allowPrivilegeEscalation is not false",
        "Deployment/dashboard dashboard: capabilities are not exactly drop ALL",
        "Deployment/dashboard dashboard: seccompProfile is not RuntimeDefault",
        "Deployment/dashboard dashboard: readOnlyRootFilesystem is not true",
        "Job/fleet: volume host is ['hostPath']",
    ]


def test_namespace_enforces_the_restricted_pod_security_standard():
    """The namespace refuses pods that break the restricted standard, and warns and audits."""
    labels = one(rendered("base"), "Namespace", NAMESPACE)["metadata"]["labels"]
    assert {k: v for k, v in labels.items() if not k.endswith("-version")} == {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }


@pytest.mark.parametrize("tree", sorted(TREES))
def test_only_flink_pods_mount_a_service_account_token(tree):
    """Every pod turns the token off, except Flink's, which use it with their own accounts."""
    assert security.token_problems(rendered(tree), TOKEN_USERS) == []


def test_token_check_reports_a_pod_that_keeps_its_token():
    """A Job that leaves automountServiceAccountToken unset, and a token user on the default
    account, are reported."""
    docs = rendered("local")
    del one(docs, "Job", "fleet")["spec"]["template"]["spec"]["automountServiceAccountToken"]
    one(docs, "FlinkDeployment", "joulestream-pipeline")["spec"]["serviceAccount"] = "default"
    assert security.token_problems(docs, TOKEN_USERS) == [
        "FlinkDeployment/joulestream-pipeline: needs its own account's token",
        "Job/fleet: mounts a service-account token it does not use",
    ]


@pytest.mark.parametrize("tree", sorted(TREES))
def test_every_container_has_cpu_and_memory_requests_and_limits(tree):
    """Every container, Jobs' included, has both requests and limits; Flink's pods get limits
    equal to their requests."""
    assert security.resource_problems(rendered(tree)) == []


def test_resource_check_reports_a_missing_cpu_limit():
    """Dropping a CPU limit, and Flink's CPU limit factor, are each reported."""
    docs = rendered("production")
    (kafka,) = one(docs, "StatefulSet", "kafka")["spec"]["template"]["spec"]["containers"]
    del kafka["resources"]["limits"]["cpu"]
    flink = one(docs, "FlinkDeployment", "joulestream-pipeline")["spec"]
    del flink["flinkConfiguration"]["kubernetes.taskmanager.cpu.limit-factor"]
    assert security.resource_problems(docs) == [
        "StatefulSet/kafka kafka: no cpu in limits",
        "FlinkDeployment/joulestream-pipeline: taskmanager has no cpu limit factor >= 1",
    ]


@pytest.mark.parametrize("tree", sorted(TREES))
def test_no_role_grants_everything(tree):
    """No Role or ClusterRole rule has '*' for verbs, resources or API groups."""
    assert security.role_problems(rendered(tree)) == []


def test_role_check_reports_a_wildcard():
    """A rule with '*' verbs is reported."""
    docs = rendered("base")
    one(docs, "Role", "flink")["rules"][0]["verbs"] = ["*"]
    assert security.role_problems(docs) == ["Role/flink: rule 0 has '*' in verbs"]


def test_flink_roles_grant_what_flinks_kubernetes_client_does():
    """The JobManager manages its TaskManager pods and HA ConfigMaps and only its own
    Deployment; the TaskManagers only read ConfigMaps."""
    docs = rendered("base")
    name = one(docs, "FlinkDeployment", "joulestream-pipeline")["metadata"]["name"]
    assert one(docs, "Role", "flink")["rules"] == [
        {"apiGroups": [""], "resources": ["pods"],
         "verbs": ["get", "list", "watch", "create", "delete"]},
        {"apiGroups": [""], "resources": ["configmaps"],
         "verbs": ["get", "list", "watch", "create", "update", "delete", "deletecollection"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": [name],
         "verbs": ["get", "delete"]},
        {"apiGroups": ["apps"], "resources": ["deployments/finalizers"], "resourceNames": [name],
         "verbs": ["update"]},
    ]  # fmt: skip
    assert one(docs, "Role", "flink-taskmanager")["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}
    ]


@pytest.mark.parametrize("tree", sorted(TREES))
def test_flink_rest_api_accepts_no_jar_submission(tree):
    """web.submit.enable is "false" in every FlinkDeployment."""
    assert security.web_submission_problems(rendered(tree)) == []


def test_web_submission_check_reports_it_enabled():
    """Setting web.submit.enable to "true", or leaving it out, is reported."""
    docs = rendered("local")
    conf = one(docs, "FlinkDeployment", "joulestream-pipeline")["spec"]["flinkConfiguration"]
    conf["web.submit.enable"] = "true"
    assert security.web_submission_problems(docs) == [
        'FlinkDeployment/joulestream-pipeline: web.submit.enable is not "false"'
    ]
    del conf["web.submit.enable"]
    assert security.web_submission_problems(docs) == [
        'FlinkDeployment/joulestream-pipeline: web.submit.enable is not "false"'
    ]


@pytest.mark.parametrize("tree", sorted(TREES))
def test_no_mongodb_uri_carries_credentials(tree):
    """No ConfigMap, Secret, env value or Flink setting holds a MongoDB URI with a user or
    password; passwords reach containers only through Secret key references."""
    docs = rendered(tree)
    assert (security.mongodb_uri_problems(docs), security.secret_env_problems(docs)) == ([], [])


def test_credential_checks_report_a_uri_with_a_password_and_a_literal_password():
    """A URI with credentials in a ConfigMap or (encoded) in a Secret, and a password set as a
    literal env value, are reported."""
    docs = rendered("local")
    uri = "mongodb://app:secret@mongodb-0.mongodb:27017/joulestream"
    one(docs, "ConfigMap", "dashboard-config")["data"]["MONGODB_URI"] = uri
    encoded = base64.b64encode(uri.encode()).decode()
    one(docs, "Secret", "kafka-credentials")["data"]["uri"] = encoded
    dashboard_container(docs)["env"][1] = {"name": "MONGODB_PASSWORD", "value": "secret"}
    assert security.mongodb_uri_problems(docs) == [
        "ConfigMap/dashboard-config: a MongoDB URI with credentials at data.MONGODB_URI",
        "Secret/kafka-credentials: a MongoDB URI with credentials at data.uri",
    ]
    assert security.secret_env_problems(docs) == [
        "Deployment/dashboard dashboard: MONGODB_PASSWORD is not from a Secret"
    ]


@pytest.mark.parametrize("tree", DEPLOYABLE)
def test_kafka_takes_clients_only_with_a_scram_login_and_acls(tree):
    """The listener clients reach is SASL with SCRAM only, the controller's stays on localhost,
    ACLs decide, and every client is configured for that listener."""
    assert security.kafka_listener_problems(rendered(tree)) == []


def test_kafka_listener_check_reports_plaintext_and_open_listeners():
    """A PLAINTEXT client listener, a controller listening beyond the pod, no authorizer, and a
    client configured for another protocol are each reported."""
    docs = rendered("local")
    one(docs, "ConfigMap", "fleet-config")["data"]["KAFKA_SECURITY_PROTOCOL"] = "PLAINTEXT"
    assert security.kafka_listener_problems(docs) == [
        "ConfigMap/fleet-config: KAFKA_SECURITY_PROTOCOL is not the listener's"
    ]
    config = one(docs, "ConfigMap", "kafka-config")["data"]
    config["server.properties"] = (
        config["server.properties"]
        .replace("CLIENT:SASL_PLAINTEXT", "CLIENT:PLAINTEXT")
        .replace("CONTROLLER://localhost:9093", "CONTROLLER://:9093")
        .replace("authorizer.class.name=", "#")
    )
    assert security.kafka_listener_problems(docs) == [
        "listener CLIENT takes clients without a SCRAM login",
        "listener CONTROLLER is not advertised but listens beyond the pod",
        "no StandardAuthorizer: every login may do everything",
        "ConfigMap/pipeline-config: KAFKA_SECURITY_PROTOCOL is not the listener's",
    ]


def _options(ddl: str) -> dict[str, str]:
    return {k: v for k, v in re.findall(r"'((?:[^']|'')*)' = '((?:[^']|'')*)'", ddl)}


@pytest.mark.parametrize("tree", DEPLOYABLE)
def test_kafka_acls_grant_each_user_exactly_what_its_code_uses(tree):
    """The topic Job's ACLs: trainers write and describe the fleet's topic; the job reads the
    topic and consumer group of its Kafka source and writes the topic and transactional ids of
    its exactly-once windows sink (flink_jobs/sql/outputs.py), and reads its grid intensity
    source; both write idempotently. Nothing else."""
    docs = rendered(tree)
    (container,) = one(docs, "Job", "kafka-topic")["spec"]["template"]["spec"]["containers"]
    acls = script_acls(container["args"][0], container_env(docs, container))
    credentials = decoded(one(docs, "Secret", "kafka-credentials"))
    # The job's environment as its pods get it: the ConfigMap, and its login from the Secret.
    settings = JobSettings.from_env({
        **one(docs, "ConfigMap", "pipeline-config")["data"],
        "KAFKA_SASL_USERNAME": credentials["pipeline-username"],
        "KAFKA_SASL_PASSWORD": credentials["pipeline-password"],
    })  # fmt: skip
    source = _options(sql.source_ddl(settings))
    grid = _options(sql.grid_source_ddl(settings))
    sink = _options(outputs.windows_topic(settings).ddl())
    trainer = f"User:{credentials['trainer-username']}"
    pipeline = f"User:{credentials['pipeline-username']}"
    events = one(docs, "ConfigMap", "fleet-config")["data"]["JOULESTREAM_TOPIC"]
    assert acls == {
        (trainer, "Write", "topic", events, "literal"),
        (trainer, "Describe", "topic", events, "literal"),
        (trainer, "IdempotentWrite", "cluster", "kafka-cluster", "literal"),
        (pipeline, "Read", "topic", source["topic"], "literal"),
        (pipeline, "Describe", "topic", source["topic"], "literal"),
        (pipeline, "Read", "group", source["properties.group.id"], "literal"),
        (pipeline, "Read", "topic", grid["topic"], "literal"),
        (pipeline, "Describe", "topic", grid["topic"], "literal"),
        (pipeline, "Write", "topic", sink["topic"], "literal"),
        (pipeline, "Describe", "topic", sink["topic"], "literal"),
        (pipeline, "Write", "transactional-id", sink["sink.transactional-id-prefix"], "prefixed"),
        (pipeline, "Describe", "transactional-id", sink["sink.transactional-id-prefix"],
         "prefixed"),
        (pipeline, "IdempotentWrite", "cluster", "kafka-cluster", "literal"),
    }  # fmt: skip


def test_acl_reading_follows_the_script_and_its_environment():
    """A granted operation and a renamed user in the environment show in the ACLs read."""
    script = (
        'who="User:${NAME}"\n'
        'kafka kafka-acls.sh --add --allow-principal "$who" \\\n'
        '  --operation Read --operation Write --topic "${TOPIC}"\n'
    )
    assert script_acls(script, {"NAME": "bob", "TOPIC": "t"}) == {
        ("User:bob", "Read", "topic", "t", "literal"),
        ("User:bob", "Write", "topic", "t", "literal"),
    }


def network_problems(docs: list[Document]) -> list[str]:
    """Where the rendered policies let a pod reach Kafka, MongoDB, the Flink REST API or the
    dashboard other than as intended: Kafka from trainers, Flink and the topic Job; MongoDB from
    Flink and the dashboard; the REST API from the operator (and the Flink cluster itself);
    the dashboard from no pod (kubectl port-forward only)."""
    namespace = one(docs, "Namespace", NAMESPACE)["metadata"]["labels"]

    def here(labels: dict[str, str]) -> Pod:
        return Pod(labels, NAMESPACE, namespace | {"kubernetes.io/metadata.name": NAMESPACE})

    def elsewhere(name: str, labels: dict[str, str], namespace_labels: dict[str, str]) -> Pod:
        return Pod(labels, name, namespace_labels | {"kubernetes.io/metadata.name": name})

    workloads = {
        f"{d['kind']}/{d['metadata']['name']}": here(pod_labels(d))
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet", "Job")
    }
    pods = {
        **workloads,
        "jobmanager": here(FLINK_POD | {"component": "jobmanager"}),
        "taskmanager": here(FLINK_POD | {"component": "taskmanager"}),
        "other pod here": here({"app": "notebook"}),
        "operator": elsewhere(
            OPERATOR_NAMESPACE, {"app.kubernetes.io/name": "flink-kubernetes-operator"}, {}
        ),
        "operator look-alike elsewhere": elsewhere(
            "team-a", {"app.kubernetes.io/name": "flink-kubernetes-operator"}, {}
        ),
        "trainer in a trainer namespace": elsewhere("ml", TRAINER, TRAINER),
        "other pod in a trainer namespace": elsewhere("ml", {"app": "notebook"}, TRAINER),
        "trainer in another namespace": elsewhere("team-a", TRAINER, {}),
    }
    targets = {
        "kafka:9092": (pods["StatefulSet/kafka"], 9092),
        "mongodb:27017": (pods["StatefulSet/mongodb"], 27017),
        "flink-rest:8081": (pods["jobmanager"], 8081),
        "dashboard:8050": (pods["Deployment/dashboard"], 8050),
    }
    intended = {
        "kafka:9092": {"Job/fleet", "Job/kafka-topic", "jobmanager", "taskmanager",
                       "trainer in a trainer namespace"},
        "mongodb:27017": {"jobmanager", "taskmanager", "Deployment/dashboard"},
        "flink-rest:8081": {"operator", "jobmanager", "taskmanager"},
        "dashboard:8050": set(),
    }  # fmt: skip
    problems = []
    for target, (pod, port) in targets.items():
        for source, peer in pods.items():
            allowed = reaches(docs, peer, pod, port)
            if allowed != (source in intended[target]):
                problems.append(f"{source} {'can' if allowed else 'cannot'} reach {target}")
    return problems


@pytest.mark.parametrize("tree", DEPLOYABLE)
def test_network_policies_let_only_the_intended_pods_connect(tree):
    """Kafka, MongoDB, the Flink REST API and the dashboard take connections from exactly the
    pods meant to use them, in this namespace and from others."""
    assert network_problems(rendered(tree)) == []


def test_network_check_reports_an_opened_policy_and_a_lost_one():
    """Kafka opened to every pod of the namespace, and MongoDB's policy gone (the default deny
    then shuts out its clients too), are reported."""
    docs = rendered("local")
    one(docs, "NetworkPolicy", "kafka-clients")["spec"]["ingress"][0]["from"].append(
        {"podSelector": {}}
    )
    docs.remove(one(docs, "NetworkPolicy", "mongodb-clients"))
    assert network_problems(docs) == [
        "StatefulSet/kafka can reach kafka:9092",
        "StatefulSet/mongodb can reach kafka:9092",
        "Deployment/dashboard can reach kafka:9092",
        "other pod here can reach kafka:9092",
        "Deployment/dashboard cannot reach mongodb:27017",
        "jobmanager cannot reach mongodb:27017",
        "taskmanager cannot reach mongodb:27017",
    ]


# --- images ------------------------------------------------------------------------------------


def dockerfile(name: str) -> str:
    return (IMAGES / f"{name}.Dockerfile").read_text()


def images_used() -> set[str]:
    found = set()
    for tree in TREES:
        for doc in rendered(tree):
            if doc["kind"] == "FlinkDeployment":
                found.add(doc["spec"]["image"])
            for spec in pod_specs(doc):
                found |= {c["image"] for c in spec["containers"] if "image" in c}
    return found


def test_own_images_are_built_by_a_dockerfile_at_the_project_version():
    """Every joulestream-* image is built by images/<name>.Dockerfile, tagged with the version
    of pyproject.toml, and each Dockerfile is used."""
    project = code.pyproject()["project"]
    assert isinstance(project, dict)
    own = {i for i in images_used() if i.startswith("joulestream-")}
    expected = {
        f"joulestream-{p.name.removesuffix('.Dockerfile')}:{project['version']}"
        for p in IMAGES.glob("*.Dockerfile")
    }
    assert own == expected
    for image in own:
        name = image.split(":")[0].removeprefix("joulestream-")
        assert f"-t {image} ." in dockerfile(name)


@pytest.mark.parametrize("name", ["pipeline", "app"])
def test_dockerfile_copies_files_that_exist_and_are_not_ignored(name):
    """Every COPY from the build context names a path in the repository that the Dockerfile's
    .dockerignore lets through."""
    ignore = (IMAGES / f"{name}.Dockerfile.dockerignore").read_text().splitlines()
    sources = [
        line.split()[-2]
        for line in dockerfile(name).splitlines()
        if line.startswith("COPY") and "--from=" not in line
    ]
    assert sources
    for source in sources:
        assert (REPO_ROOT / source).exists(), source
        assert f"!{source}" in ignore or f"!{source}/" in ignore, source


@pytest.mark.parametrize(("name", "extra", "entry_modules", "kept_out"), [
    ("pipeline", "job", ["joulestream.flink_jobs.pipeline"], {"dash", "plotly", "gunicorn"}),
    ("app", "dashboard", ["joulestream.dash_app.__main__", "joulestream.__main__"],
     {"apache-flink"}),
])  # fmt: skip
def test_dockerfile_installs_what_the_code_imports_at_the_locked_versions(
    name, extra, entry_modules, kept_out
):
    """Each image installs the project with one extra, under requirements.lock as constraints:
    that brings every distribution its programs import, and not the other part's."""
    text = dockerfile(name).replace("\\\n", " ")
    installs = [line for line in text.splitlines() if re.search(r"\bpip install\b", line)]
    project = [line for line in installs if "/src[" in line]
    assert len(project) == 1, installs
    assert "-c /tmp/requirements.lock" in project[0]
    assert re.findall(r"'/src\[([\w,-]+)\]'", project[0]) == [extra]
    provided = code.project_requirements({extra})
    unprovided = sorted(
        module
        for module in code.third_party_imports(*entry_modules)
        if not code.distributions({module}) & provided
    )
    assert unprovided == []
    assert provided & kept_out == set()
    assert provided - set(code.locked_versions()) == set()


def test_flink_versions_agree_with_pyflink():
    """The Flink image tag, the PythonDriver jar and the Python version match the locked
    apache-flink and the Python of requirements.lock (the Makefile's)."""
    flink = code.locked_versions()["apache-flink"]
    text = dockerfile("pipeline")
    assert set(re.findall(r"FROM flink:(\S+)", text)) == {f"{flink}-java17"}
    jar_uris = {
        one(rendered(t), "FlinkDeployment", "joulestream-pipeline")["spec"]["job"]["jarURI"]
        for t in TREES
    }
    assert jar_uris == {f"local:///opt/flink/opt/flink-python-{flink}.jar"}
    python = re.search(r"^PYTHON \?= python(\d+\.\d+)$", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert python is not None
    assert set(re.findall(r"uv python install (\S+)", text)) == {python.group(1)}
    assert set(re.findall(r"FROM python:(\d+\.\d+)", dockerfile("app"))) == {python.group(1)}
    assert "COPY stack/maven/flink/pom.xml" in text


# --- documentation -------------------------------------------------------------------------------


def test_readme_describes_every_file():
    """The README names every manifest, patch, example and image file of the deployment."""
    readme = (K8S_DIR / "README.md").read_text()
    files = [
        p.relative_to(K8S_DIR).as_posix()
        for p in sorted(K8S_DIR.rglob("*"))
        if p.is_file() and p.name not in ("README.md", ".gitignore") and p.suffix != ".env"
    ]
    named = set(re.findall(r"`(?:[\w.-]+/)*([\w.-]+)`", readme))
    assert [f for f in files if Path(f).name not in named] == []
