"""Offline checks of the Kubernetes deployment in k8s/flink-operator (no cluster needed)."""

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate
import pytest

from flink_jobs.indexes import INDEXES
from stack.settings import REPO_ROOT
from tests.k8s import code, crd
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

KUBERNETES_VERSION = "1.33"
PYTHON_DRIVER = "org.apache.flink.client.python.PythonDriver"
# Read by the mongo image's entrypoint itself, not by a script of ours.
IMAGE_READS = {"MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD"}
TREES = {"base": BASE, **OVERLAYS}
DEPLOYABLE = sorted(OVERLAYS)
IMAGES = K8S_DIR / "images"


@pytest.fixture(scope="module")
def flink_crd() -> dict[str, Any]:
    return crd.load_crd()


def rendered(overlay: str) -> list[Document]:
    return render(TREES[overlay])


def one(docs: list[Document], kind: str, name: str) -> Document:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def pod_specs(doc: Document) -> Iterator[dict[str, Any]]:
    """The pod specs a workload or FlinkDeployment runs."""
    if doc["kind"] == "FlinkDeployment":
        for holder in (
            doc["spec"],
            doc["spec"].get("jobManager", {}),
            doc["spec"].get("taskManager", {}),
        ):
            if "podTemplate" in holder:
                yield holder["podTemplate"]["spec"]
    elif doc["kind"] in ("Deployment", "StatefulSet", "Job"):
        yield doc["spec"]["template"]["spec"]


def program(doc: Document, container: dict[str, Any]) -> str | None:
    """The package of this repository a container runs (``python -m pkg`` / ``-pym pkg.mod``)."""
    argv = [*container.get("command", []), *container.get("args", [])]
    if doc["kind"] == "FlinkDeployment":
        argv = doc["spec"]["job"]["args"]
    for flag in ("-m", "-pym"):
        if flag in argv:
            return str(argv[argv.index(flag) + 1]).split(".")[0]
    return None


def provided_env(docs: list[Document], container: dict[str, Any]) -> set[str]:
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            names |= set(one(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
        if "secretRef" in source:
            names |= set(one(docs, "Secret", source["secretRef"]["name"])["data"])
    return names


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
                        referenced = f"$({name})" in argv or f"process.env.{name}" in scripts
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
        "dashboard-mongodb.env.example", "mongodb-credentials.env.example",
        "pipeline-mongodb.env.example",
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
        "v1_20", PYTHON_DRIVER, ["-pym", "flink_jobs.pipeline"],
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
    """Every ConfigMap, Secret, key, claim, service account and Service selector points at
    something that exists."""
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
        if doc["kind"] == "FlinkDeployment":
            missing.append(("ServiceAccount", doc["spec"]["serviceAccount"]))
        if doc["kind"] == "Service":
            pods = [
                d["spec"]["template"]["metadata"]["labels"]
                for d in docs
                if d["kind"] in ("Deployment", "StatefulSet")
            ]
            assert any(doc["spec"]["selector"].items() <= labels.items() for labels in pods), doc
    assert sorted(set(missing) - names) == []


def _statefulset_address(docs: list[Document], host: str, port: int) -> tuple[str, int]:
    """Resolve ``<set>-<n>.<service>:port`` to the container port it reaches."""
    pod, service_name = host.split(".")
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
    env = {
        e["name"]: e.get("value")
        for e in one(docs, "StatefulSet", "kafka")["spec"]["template"]["spec"]["containers"][0][
            "env"
        ]
    }
    assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{servers}"


@pytest.mark.parametrize("tree", DEPLOYABLE)
def test_mongodb_uris_match_the_users_the_init_script_creates(tree):
    """The job's URI is the read-write user and the dashboard's the read-only one, with the
    passwords of mongodb-credentials, on the configured database and the MongoDB pod."""
    docs = rendered(tree)
    credentials = decoded(one(docs, "Secret", "mongodb-credentials"))
    script = "".join(one(docs, "ConfigMap", "mongodb-init")["data"].values())
    for secret, user, role, config in (
        ("pipeline-mongodb", "app", "readWrite", "pipeline-config"),
        ("dashboard-mongodb", "dashboard", "read", "dashboard-config"),
    ):
        uri = urlsplit(decoded(one(docs, "Secret", secret))["uri"])
        database = one(docs, "ConfigMap", config)["data"]["MONGODB_DATABASE"]
        env_user = f"JOULESTREAM_{user.upper()}_USERNAME"
        assert (uri.username, uri.password) == (
            credentials[f"{user}-username"], credentials[f"{user}-password"],
        )  # fmt: skip
        assert (uri.path, parse_qs(uri.query)["authSource"]) == (f"/{database}", [database])
        assert _statefulset_address(docs, str(uri.hostname), int(uri.port or 0)) == (
            "mongodb",
            27017,
        )
        assert re.search(
            rf"user: process\.env\.{env_user},\s*\n.*\n\s*roles: \[\{{ role: \"{role}\"", script
        )


def test_init_script_creates_the_indexes_of_flink_jobs_indexes():
    """The MongoDB init script creates exactly the indexes flink_jobs/indexes.py declares."""
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


@pytest.mark.parametrize(("name", "entry_modules"), [
    ("pipeline", ["flink_jobs.pipeline"]),
    ("app", ["dash_app.__main__", "emitter.__main__"]),
])  # fmt: skip
def test_dockerfile_installs_the_pinned_versions_of_what_the_code_imports(name, entry_modules):
    """The pip/uv install of each image names exactly the distributions its programs import,
    each at the version pinned in pyproject.toml."""
    installed = dict(re.findall(r"([a-z][a-z0-9-]*)==([0-9][^\s\\]*)", dockerfile(name)))
    installed.pop("uv", None)
    pins = code.pinned_dependencies()
    needed = {}
    for module in code.third_party_imports(*entry_modules):
        (dist,) = code.distributions({module}) & set(pins)
        needed[dist] = pins[dist]
    assert installed == needed


def test_flink_versions_agree_with_pyflink():
    """The Flink image tag, the PythonDriver jar and the Python version match pyproject.toml."""
    flink = code.pinned_dependencies()["apache-flink"]
    text = dockerfile("pipeline")
    assert set(re.findall(r"FROM flink:(\S+)", text)) == {f"{flink}-java17"}
    jar_uris = {
        one(rendered(t), "FlinkDeployment", "joulestream-pipeline")["spec"]["job"]["jarURI"]
        for t in TREES
    }
    assert jar_uris == {f"local:///opt/flink/opt/flink-python-{flink}.jar"}
    requires = code.pyproject()["project"]
    assert isinstance(requires, dict)
    python = re.search(r">=(\d+\.\d+)", requires["requires-python"])
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
