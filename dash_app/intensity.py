"""The carbon-intensity table for the run page's what-if: the shared table in ``schemas/``
(``schemas.intensity``), the same figures the job prices with."""

from collections.abc import Mapping
from functools import cache

from joulestream.schemas.intensity import Intensity, load


@cache
def table() -> Mapping[str, Intensity]:
    """Zone → intensity, read once per process."""
    return load()
