"""A small kustomize: resources, Secret generators from .env files, strategic-merge patches.

Only the features the manifests use are implemented; any other kustomization key is reported by
``unknown_keys`` so a new feature cannot slip past the checks unrendered.
"""

import base64
import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stack.settings import REPO_ROOT

K8S_DIR = REPO_ROOT / "k8s" / "flink-operator"
BASE = K8S_DIR / "base"
OVERLAYS = {
    "local": K8S_DIR / "overlays" / "local",
    "production": K8S_DIR / "overlays" / "production",
}
KNOWN_KEYS = {
    "apiVersion", "kind", "namespace", "resources", "patches", "secretGenerator",
    "generatorOptions",
}  # fmt: skip
CLUSTER_SCOPED = {"Namespace"}

Document = dict[str, Any]


def load_documents(path: Path) -> list[Document]:
    """The YAML documents of a manifest file (empty documents skipped)."""
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


@dataclass(frozen=True)
class Kustomization:
    directory: Path
    data: dict[str, Any]

    @staticmethod
    def read(directory: Path) -> "Kustomization":
        return Kustomization(
            directory, yaml.safe_load((directory / "kustomization.yaml").read_text())
        )

    @property
    def resources(self) -> list[Path]:
        return [(self.directory / r).resolve() for r in self.data.get("resources", [])]

    @property
    def patches(self) -> list[Path]:
        return [self.directory / p["path"] for p in self.data.get("patches", [])]

    @property
    def env_files(self) -> list[Path]:
        return [
            self.directory / env
            for generator in self.data.get("secretGenerator", [])
            for env in generator.get("envs", [])
        ]

    def unknown_keys(self) -> set[str]:
        return set(self.data) - KNOWN_KEYS


def env_file(path: Path) -> Path:
    """``path``, or its committed ``.example`` when the real file is the deployer's to create."""
    return path if path.exists() else path.with_name(path.name + ".example")


def read_env(path: Path) -> dict[str, str]:
    """A kustomize ``envs`` file: KEY=VALUE lines, ``#`` comments and blank lines skipped."""
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value
    return pairs


def file_problems(k: Kustomization) -> list[str]:
    """Files the kustomization names that do not exist, and files beside it that it never names."""
    problems = []
    named = {k.directory / "kustomization.yaml", *k.patches}
    for path in k.resources:
        if not path.exists():
            problems.append(f"{k.directory.name}: resource {path.name} does not exist")
        named.add(path)
    for path in k.env_files:
        if not env_file(path).exists():
            problems.append(f"{k.directory.name}: {path.name} and {path.name}.example are missing")
        named |= {path, path.with_name(path.name + ".example")}
    for path in k.patches:
        if not path.exists():
            problems.append(f"{k.directory.name}: patch {path.name} does not exist")
    for path in sorted(k.directory.iterdir()):
        # A deployer's own .env file sits beside its committed .example twin.
        own_env = path.suffix == ".env" and path.with_name(path.name + ".example") in named
        if path.is_file() and path.name != ".gitignore" and path not in named and not own_env:
            problems.append(f"{k.directory.name}: {path.name} is not in kustomization.yaml")
    return problems


def merge(base: Any, patch: Any) -> Any:
    """Strategic merge as kustomize applies it to these manifests: maps merge, lists of named
    maps (containers, env, ports) merge by name, any other list or value is replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        patched = {item["name"]: item for item in patch}
        names = {item["name"] for item in base}
        merged_list = [merge(i, patched[i["name"]]) if i["name"] in patched else i for i in base]
        return merged_list + [copy.deepcopy(i) for i in patch if i["name"] not in names]
    return copy.deepcopy(patch)


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)


def _key(doc: Document) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


def secret(name: str, pairs: dict[str, str]) -> Document:
    data = {key: base64.b64encode(value.encode()).decode() for key, value in pairs.items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": "Opaque",
        "data": data,
    }


def render(directory: Path) -> list[Document]:
    """The documents ``kubectl kustomize directory`` would print (for the features used here)."""
    k = Kustomization.read(directory)
    docs: list[Document] = []
    for path in k.resources:
        docs += render(path) if path.is_dir() else load_documents(path)
    for generator in k.data.get("secretGenerator", []):
        pairs: dict[str, str] = {}
        for env in generator.get("envs", []):
            pairs |= read_env(env_file(directory / env))
        docs.append(secret(generator["name"], pairs))
    for path in k.patches:
        for patch in load_documents(path):
            index = [_key(d) for d in docs].index(_key(patch))
            docs[index] = merge(docs[index], patch)
    if "namespace" in k.data:
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"] = doc["metadata"] | {"namespace": k.data["namespace"]}
            # kustomize also puts the service accounts a binding names into the namespace.
            for subject in doc.get("subjects", []):
                if subject["kind"] == "ServiceAccount":
                    subject["namespace"] = k.data["namespace"]
    return docs


def decoded(doc: Document) -> dict[str, str]:
    """A Secret's values, decoded."""
    return {key: base64.b64decode(value).decode() for key, value in doc.get("data", {}).items()}
