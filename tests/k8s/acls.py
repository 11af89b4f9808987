"""The Kafka ACLs the topic Job's script creates, read from the rendered manifests.

The script's ``kafka kafka-acls.sh --add ...`` commands are split like the shell splits them,
after expanding the shell variables the script sets and the container's environment (its
ConfigMap and Secret values): the result is the set of ACLs the broker will hold.
"""

import re
import shlex
from typing import Any

from tests.k8s.render import Document, decoded
from tests.k8s.workloads import one

# (principal, operation, resource type, resource name, pattern type)
Acl = tuple[str, str, str, str, str]
RESOURCE_FLAGS = {"--topic": "topic", "--group": "group", "--transactional-id": "transactional-id"}


def container_env(docs: list[Document], container: dict[str, Any]) -> dict[str, str]:
    """The values of a container's ``env`` entries (literal, ConfigMap key or Secret key)."""
    env = {}
    for entry in container.get("env", []):
        ref = entry.get("valueFrom", {})
        if "configMapKeyRef" in ref:
            key = ref["configMapKeyRef"]
            env[entry["name"]] = one(docs, "ConfigMap", key["name"])["data"][key["key"]]
        elif "secretKeyRef" in ref:
            key = ref["secretKeyRef"]
            env[entry["name"]] = decoded(one(docs, "Secret", key["name"]))[key["key"]]
        else:
            env[entry["name"]] = entry["value"]
    return env


def _expand(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], text)


def script_acls(script: str, env: dict[str, str]) -> set[Acl]:
    """The ACLs the ``kafka-acls.sh --add`` commands of ``script`` create under ``env``."""
    values = dict(env)
    acls = set()
    for line in script.replace("\\\n", " ").splitlines():
        assignment = re.fullmatch(r'\s*(\w+)="([^"]*)"\s*', line)
        if assignment:
            values[assignment.group(1)] = _expand(assignment.group(2), values)
            continue
        if not line.strip().startswith("kafka kafka-acls.sh"):
            continue
        words = [_expand(word, values) for word in shlex.split(line)[2:]]
        if "--add" not in words:
            raise ValueError(f"not an --add: {line.strip()}")
        principals, operations, resources = [], [], []
        pattern = "literal"
        pairs = iter(words)
        for word in pairs:
            if word == "--allow-principal":
                principals.append(next(pairs))
            elif word == "--operation":
                operations.append(next(pairs))
            elif word == "--resource-pattern-type":
                pattern = next(pairs).lower()
            elif word == "--cluster":
                resources.append(("cluster", "kafka-cluster"))
            elif word in RESOURCE_FLAGS:
                resources.append((RESOURCE_FLAGS[word], next(pairs)))
            elif word != "--add":
                raise ValueError(f"option not understood: {word}")
        acls |= {
            (principal, operation, kind, name, pattern)
            for principal in principals
            for operation in operations
            for kind, name in resources
        }
    return acls
