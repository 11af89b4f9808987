"""What the Fleet page knows of the runs, folded from one read of every run (``data.every_run``).

The local FerretDB answers a sort, a ``$group`` or a ``$regex`` over ``runs`` by decoding every
run document (its SQLite backend pushes none of them down), so the page's four reads of every run
(the totals' ``$group``, the marked runs, the top runs and the newest event) cost four passes.
One read, folded here, gives the same answers; on MongoDB the ``$group`` read every run already.
Each field says which query it stands for, and keeps that query's semantics (its order, limit and
missing values).
"""

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from joulestream.dash_app import data, marks

Document = data.Document
# Sorts a run without ``last_event_at`` below any with one, as null sorts in a query.
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class FleetRuns:
    """The runs as the Fleet page folds them."""

    count: int
    """Every run."""
    energy_j: float
    """The sum of the runs' ``energy_j`` (a run without one adds nothing, as ``$sum``)."""
    running: list[Document]
    """Runs whose ``status`` is ``running``, the most recently active first (a run without
    ``last_event_at`` last, as a descending sort puts null), at most ``data.MAX_RUNS``."""
    lost: int
    """Runs whose ``status`` is ``lost``, at most ``data.MAX_RUNS``."""
    flagged: list[Document]
    """Runs whose CO2e carries a mark (``marks.of_run``), in the order read; every one (the
    query stopped at ``data.MAX_RUNS``, and a total carries the marks of any run in it)."""
    top: list[Document]
    """The runs with the most ``energy_j``, most first (without one: last), at most ``top``."""
    last_event_at: datetime | None
    """The newest ``last_event_at`` of any run."""


def _energy_key(run: Document) -> tuple[bool, float]:
    energy_j = run.get("energy_j")
    return (energy_j is not None, float(energy_j) if energy_j is not None else 0.0)


def _recency_key(run: Document) -> tuple[bool, datetime]:
    last = run.get("last_event_at")
    return (last is not None, last if last is not None else _NEVER)


def fold(runs: Iterable[Document], top: int = 10) -> FleetRuns:
    """Every figure of ``FleetRuns`` from one pass over ``runs`` (documents with at least
    ``data.FLEET_RUN_FIELDS``), plus a sort of the running runs and of the ``top`` largest."""
    count, energy_j, lost = 0, 0.0, 0
    running: list[Document] = []
    flagged: list[Document] = []
    newest: datetime | None = None
    listed: list[Document] = []
    for run in runs:
        listed.append(run)
        count += 1
        if run.get("energy_j") is not None:
            energy_j += float(run["energy_j"])
        status = run.get("status")
        if status == "running":
            running.append(run)
        elif status == "lost":
            lost += 1
        if marks.of_run(run) != marks.NONE:
            flagged.append(run)
        last = run.get("last_event_at")
        if last is not None and (newest is None or last > newest):
            newest = last
    # Stable (``reverse`` keeps it so): runs that tie keep the order they were read in.
    running.sort(key=_recency_key, reverse=True)
    return FleetRuns(
        count=count,
        energy_j=energy_j,
        running=running[: data.MAX_RUNS],
        lost=min(lost, data.MAX_RUNS),
        flagged=flagged,
        top=heapq.nlargest(top, listed, key=_energy_key),
        last_event_at=newest,
    )
