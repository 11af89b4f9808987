"""The Flink operator's FlinkDeployment CRD schema, made strict, and validation against it.

The API server prunes unknown fields of a custom resource silently; here they are errors, so a
misspelt or version-specific field fails the test instead of vanishing on a real cluster.
"""

import copy
import zipfile
from typing import Any

import yaml
from jsonschema import Draft7Validator

from stack import fetch
from stack.settings import StackSettings

CRD_ENTRY = "META-INF/fabric8/flinkdeployments.flink.apache.org-v1.yml"
OBJECT_META_FIELDS = {"name", "namespace", "labels", "annotations"}

Schema = dict[str, Any]


def load_crd() -> dict[str, Any]:
    """The FlinkDeployment CRD (apiextensions.k8s.io/v1) from the operator's API jar."""
    (jar,) = fetch.jars(StackSettings.from_env(), "k8s")
    with zipfile.ZipFile(jar) as archive:
        crd: dict[str, Any] = yaml.safe_load(archive.read(CRD_ENTRY))
    return crd


def strict(schema: Schema) -> Schema:
    """A copy of ``schema`` where every object with listed properties rejects any other."""
    out = copy.deepcopy(schema)

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            open_ended = "additionalProperties" in node or node.get(
                "x-kubernetes-preserve-unknown-fields"
            )
            if "properties" in node and not open_ended:
                node["additionalProperties"] = False
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(out)
    return out


def errors(doc: dict[str, Any], crd: dict[str, Any]) -> list[str]:
    """Every way ``doc`` breaks the CRD, as ``path: message`` lines (empty when it conforms)."""
    group, _, version = doc.get("apiVersion", "").partition("/")
    problems = []
    if group != crd["spec"]["group"] or doc.get("kind") != crd["spec"]["names"]["kind"]:
        problems.append(
            f"apiVersion/kind {doc.get('apiVersion')}/{doc.get('kind')} is not this CRD"
        )
    served = {v["name"]: v for v in crd["spec"]["versions"] if v["served"]}
    if version not in served:
        return [*problems, f"version {version!r} is not served (served: {sorted(served)})"]
    metadata = doc.get("metadata", {})
    problems += [
        f"metadata.{k}: not allowed here" for k in sorted(set(metadata) - OBJECT_META_FIELDS)
    ]
    body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "metadata")}
    validator = Draft7Validator(strict(served[version]["schema"]["openAPIV3Schema"]))
    for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in error.absolute_path) or "(top)"
        problems.append(f"{path}: {error.message}")
    return problems
