"""Security rules every rendered deployment must keep, each as a function listing what breaks it.

Each returns human-readable problems (empty when the rule holds), so a test shows every
offender at once and a test that breaks a manifest on purpose can name what it expects.
"""

import base64
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from tests.k8s.render import Document
from tests.k8s.workloads import containers, one, pod_specs, where

# Volume types the "restricted" Pod Security Standard admits.
RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip
# Flink configuration prefix of each FlinkDeployment role → its spec field.
FLINK_ROLES = {"jobmanager": "jobManager", "taskmanager": "taskManager"}
MONGODB_URI = re.compile(r"mongodb(?:\+srv)?://[^\s'\"]+")
SCRAM = {"SCRAM-SHA-256", "SCRAM-SHA-512"}
LOOPBACK = {"localhost", "127.0.0.1", "[::1]"}


def security_context_problems(docs: list[Document]) -> list[str]:
    """Containers that could run as root, gain privileges, keep capabilities, run without the
    runtime's seccomp profile or write their image; pods with host namespaces or volume types
    the restricted Pod Security Standard refuses."""
    problems = []
    for doc in docs:
        for spec in pod_specs(doc):
            pod = spec.get("securityContext", {})
            for flag in ("hostNetwork", "hostPID", "hostIPC"):
                if spec.get(flag):
                    problems.append(f"{where(doc)}: {flag}")
            for volume in spec.get("volumes", []):
                kinds = set(volume) - {"name"}
                if not kinds <= RESTRICTED_VOLUMES:
                    problems.append(f"{where(doc)}: volume {volume['name']} is {sorted(kinds)}")
            for container in containers(spec):
                context = container.get("securityContext", {})
                name = f"{where(doc)} {container['name']}"
                user = context.get("runAsUser", pod.get("runAsUser"))
                seccomp = context.get("seccompProfile", pod.get("seccompProfile", {}))
                capabilities = context.get("capabilities", {})
                if context.get("runAsNonRoot") is not True:
                    problems.append(f"{name}: runAsNonRoot is not true")
                if type(user) is not int or user == 0:
                    problems.append(f"{name}: runAsUser is not a non-root user id")
                if context.get("allowPrivilegeEscalation") is not False:
                    problems.append(f"{name}: allowPrivilegeEscalation is not false")
                if context.get("privileged"):
                    problems.append(f"{name}: privileged")
                if capabilities.get("drop") != ["ALL"] or capabilities.get("add"):
                    problems.append(f"{name}: capabilities are not exactly drop ALL")
                if seccomp.get("type") != "RuntimeDefault":
                    problems.append(f"{name}: seccompProfile is not RuntimeDefault")
                if context.get("readOnlyRootFilesystem") is not True:
                    problems.append(f"{name}: readOnlyRootFilesystem is not true")
    return problems


def token_problems(docs: list[Document], token_users: Mapping[str, str]) -> list[str]:
    """Pods that mount a service-account token without being one of ``token_users`` (workload →
    why it needs the Kubernetes API), and token users that would run as the default account."""
    problems = []
    for doc in docs:
        for spec in pod_specs(doc):
            mounted = spec.get("automountServiceAccountToken", True)
            if where(doc) not in token_users and mounted is not False:
                problems.append(f"{where(doc)}: mounts a service-account token it does not use")
            if where(doc) in token_users:
                account = doc["spec"].get("serviceAccount", spec.get("serviceAccountName"))
                if mounted is not True or account in (None, "default"):
                    problems.append(f"{where(doc)}: needs its own account's token")
    return problems


def resource_problems(docs: list[Document]) -> list[str]:
    """Containers without CPU and memory requests and limits. Flink sizes its own pods from
    ``jobManager``/``taskManager.resource`` times the limit factors, which must be set."""
    problems = []
    for doc in docs:
        if doc["kind"] == "FlinkDeployment":
            conf = doc["spec"]["flinkConfiguration"]
            for role, field in FLINK_ROLES.items():
                resource = doc["spec"][field].get("resource", {})
                for name in ("cpu", "memory"):
                    if name not in resource:
                        problems.append(f"{where(doc)}: {role} has no {name}")
                    factor = conf.get(f"kubernetes.{role}.{name}.limit-factor")
                    if factor is None or float(factor) < 1.0:
                        problems.append(f"{where(doc)}: {role} has no {name} limit factor >= 1")
            continue
        for spec in pod_specs(doc):
            for container in containers(spec):
                resources = container.get("resources", {})
                for bound in ("requests", "limits"):
                    for name in ("cpu", "memory"):
                        if name not in resources.get(bound, {}):
                            problems.append(
                                f"{where(doc)} {container['name']}: no {name} in {bound}"
                            )
    return problems


def role_problems(docs: list[Document]) -> list[str]:
    """Role or ClusterRole rules that grant ``*`` (any verb, resource or API group)."""
    problems = []
    for doc in docs:
        if doc["kind"] in ("Role", "ClusterRole"):
            for index, rule in enumerate(doc.get("rules", [])):
                for field in ("verbs", "resources", "apiGroups"):
                    if "*" in rule.get(field, []):
                        problems.append(f"{where(doc)}: rule {index} has '*' in {field}")
    return problems


def web_submission_problems(docs: list[Document]) -> list[str]:
    """FlinkDeployments whose REST API would accept jar uploads and runs."""
    return [
        f'{where(doc)}: web.submit.enable is not "false"'
        for doc in docs
        if doc["kind"] == "FlinkDeployment"
        and doc["spec"]["flinkConfiguration"].get("web.submit.enable") != "false"
    ]


def _strings(node: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, f"{path}.{index}")
    elif isinstance(node, str):
        yield path, node


def mongodb_uri_problems(docs: list[Document]) -> list[str]:
    """Places where a MongoDB URI carries a user or password (Secrets decoded first). The URI
    itself is never printed: it would be the secret."""
    problems = []
    for doc in docs:
        body = doc
        if doc["kind"] == "Secret":
            data = {k: base64.b64decode(v).decode() for k, v in doc.get("data", {}).items()}
            body = doc | {"data": data}
        for path, text in _strings(body, ""):
            for uri in MONGODB_URI.findall(text):
                parts = urlsplit(uri)
                if parts.username is not None or parts.password is not None:
                    problems.append(f"{where(doc)}: a MongoDB URI with credentials at {path[1:]}")
    return problems


def secret_env_problems(docs: list[Document]) -> list[str]:
    """Passwords given to a container other than through a Secret key reference."""
    problems = []
    for doc in docs:
        for spec in pod_specs(doc):
            for container in containers(spec):
                for entry in container.get("env", []):
                    from_secret = "secretKeyRef" in entry.get("valueFrom", {})
                    if entry["name"].endswith("PASSWORD") and not from_secret:
                        problems.append(
                            f"{where(doc)} {container['name']}: {entry['name']} is not from a "
                            "Secret"
                        )
                for source in container.get("envFrom", []):
                    if "configMapRef" in source:
                        data = one(docs, "ConfigMap", source["configMapRef"]["name"])["data"]
                        problems += [
                            f"{where(doc)} {container['name']}: {key} from a ConfigMap"
                            for key in data
                            if key.endswith("PASSWORD")
                        ]
    return problems


def properties(text: str) -> dict[str, str]:
    """A Java properties file of ``key=value`` lines (``#`` comments skipped)."""
    pairs = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def kafka_listener_problems(docs: list[Document]) -> list[str]:
    """Broker listeners other pods can reach that do not require a SCRAM login, listeners
    left open beyond the pod, a broker that lets anybody do what no ACL forbids, and clients
    configured for another protocol or mechanism than the listener they reach."""
    server = properties(one(docs, "ConfigMap", "kafka-config")["data"]["server.properties"])
    protocol_map = server["listener.security.protocol.map"]
    protocols = dict(item.split(":") for item in protocol_map.split(","))
    advertised = {item.split("://")[0] for item in server["advertised.listeners"].split(",")}
    problems = []
    client_protocols = set()
    client_mechanisms: set[str] = set()
    for listener in server["listeners"].split(","):
        name, _, address = listener.partition("://")
        host = address.rpartition(":")[0]
        mechanisms = set(
            server.get(
                f"listener.name.{name.lower()}.sasl.enabled.mechanisms",
                server.get("sasl.enabled.mechanisms", "GSSAPI"),
            ).split(",")
        )
        if name in advertised:
            client_protocols.add(protocols[name])
            client_mechanisms |= mechanisms
            if not protocols[name].startswith("SASL_") or not mechanisms <= SCRAM:
                problems.append(f"listener {name} takes clients without a SCRAM login")
        elif host not in LOOPBACK:
            problems.append(f"listener {name} is not advertised but listens beyond the pod")
    if server.get("authorizer.class.name", "").rpartition(".")[2] != "StandardAuthorizer":
        problems.append("no StandardAuthorizer: every login may do everything")
    if server.get("allow.everyone.if.no.acl.found") != "false":
        problems.append("allow.everyone.if.no.acl.found is not false")
    for doc in docs:
        data = doc.get("data", {}) if doc["kind"] == "ConfigMap" else {}
        if "KAFKA_BOOTSTRAP_SERVERS" in data:
            if data.get("KAFKA_SECURITY_PROTOCOL") not in client_protocols:
                problems.append(f"{where(doc)}: KAFKA_SECURITY_PROTOCOL is not the listener's")
            if data.get("KAFKA_SASL_MECHANISM") not in client_mechanisms:
                problems.append(f"{where(doc)}: KAFKA_SASL_MECHANISM is not the listener's")
    return problems
