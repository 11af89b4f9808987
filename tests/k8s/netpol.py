"""Which pod may open a connection to which, under the rendered NetworkPolicies.

Evaluates ingress rules as Kubernetes does: a pod selected by no policy takes every
connection; a pod selected by some takes those that one of their rules allows. Only the
selector forms the manifests use are understood (``matchLabels``, port numbers); anything else
raises, so a new form cannot pass unexamined.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.k8s.render import Document


@dataclass(frozen=True)
class Pod:
    """A pod as a policy sees it: its labels, its namespace and that namespace's labels."""

    labels: Mapping[str, str]
    namespace: str
    namespace_labels: Mapping[str, str] = field(default_factory=dict)


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    unknown = set(selector) - {"matchLabels"}
    if unknown:
        raise ValueError(f"selector form not understood: {sorted(unknown)}")
    wanted: Mapping[str, str] = selector.get("matchLabels", {})
    return wanted.items() <= labels.items()


def _peer_admits(peer: Mapping[str, Any], source: Pod, namespace: str) -> bool:
    unknown = set(peer) - {"podSelector", "namespaceSelector"}
    if unknown:
        raise ValueError(f"peer form not understood: {sorted(unknown)}")
    if "namespaceSelector" in peer:
        in_namespace = selects(peer["namespaceSelector"], source.namespace_labels)
    else:
        in_namespace = source.namespace == namespace
    return in_namespace and selects(peer.get("podSelector", {}), source.labels)


def _port_admits(ports: list[Mapping[str, Any]] | None, port: int) -> bool:
    if ports is None:
        return True
    for entry in ports:
        if not isinstance(entry.get("port"), int) or entry.get("protocol", "TCP") != "TCP":
            raise ValueError(f"port form not understood: {entry}")
        if entry["port"] <= port <= entry.get("endPort", entry["port"]):
            return True
    return False


def reaches(docs: list[Document], source: Pod, target: Pod, port: int) -> bool:
    """Whether ``source`` may open a TCP connection to ``target`` on ``port``."""
    isolating = [
        d
        for d in docs
        if d["kind"] == "NetworkPolicy"
        and d["metadata"].get("namespace") == target.namespace
        and "Ingress" in d["spec"].get("policyTypes", ["Ingress"])
        and selects(d["spec"]["podSelector"], target.labels)
    ]
    if not isolating:
        return True
    return any(
        _port_admits(rule.get("ports"), port)
        and (
            "from" not in rule
            or any(_peer_admits(peer, source, target.namespace) for peer in rule["from"])
        )
        for policy in isolating
        for rule in policy["spec"].get("ingress", [])
    )
