"""The Avro contract between the emitter and the Flink job.

The ``.avsc`` files in this package are the single source of truth: the emitter encodes with them
(fastavro) and the Flink job derives its source table's columns from them.
"""

import json
from importlib import resources
from typing import Any

TRAINING_EVENT = "training_event"
GRID_INTENSITY = "grid_intensity"
"""One period of one zone's grid carbon intensity (topic ``grid.intensity``)."""


def load(name: str) -> dict[str, Any]:
    """Return the parsed JSON of ``schemas/<name>.avsc``.

    Raises ``FileNotFoundError`` naming the file when there is no such schema.
    """
    path = resources.files(__package__).joinpath(f"{name}.avsc")
    if not path.is_file():
        raise FileNotFoundError(f"no Avro schema named {name!r} ({name}.avsc) in package schemas")
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema
