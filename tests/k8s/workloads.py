"""The pods the rendered manifests run, and the containers in them."""

from collections.abc import Iterator
from typing import Any

from tests.k8s.render import Document

WORKLOADS = ("Deployment", "StatefulSet", "Job", "FlinkDeployment")


def one(docs: list[Document], kind: str, name: str) -> Document:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def where(doc: Document) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


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


def pod_labels(doc: Document) -> dict[str, str]:
    """The labels of the pods a Deployment, StatefulSet or Job creates."""
    labels: dict[str, str] = doc["spec"]["template"]["metadata"]["labels"]
    return labels


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every container of a pod spec, init containers included."""
    return [*spec.get("initContainers", []), *spec.get("containers", [])]
