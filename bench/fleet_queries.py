"""Each query of the Fleet page's refresh timed apart, on the benchmark's database
(``bench.dash_bench`` seeds it), to see where the page's time goes:

    .venv/bin/python -m bench.fleet_queries [--repeat 5]

The page's "now" is the seeding time, as in ``bench.dash_bench``. Median and max of ``repeat``
calls after a warm-up; the number of documents each returns. Prints its figures; not a test.
"""

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sized
from datetime import datetime, timedelta
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from joulestream.dash_app import data, fleet_runs, settled
from joulestream.dash_app.pages import fleet
from joulestream.dash_app.settings import DashSettings
from joulestream.schemas import defaults

Document = dict[str, Any]


def queries(db: Database[Document], now: datetime) -> list[tuple[str, Callable[[], object]]]:
    """The Fleet page's reads with the 7-day range, before and after the settled sum."""
    since = now - timedelta(days=7)
    cutoff = settled.cutoff(now, DashSettings().settled_after_s)
    last = data.LAST_13_DIGIT_DATE
    kept = settled.SettledTotals()
    runs = data.every_run(db)
    top = [str(r["run_id"]) for r in fleet_runs.fold(runs).top]
    return [
        (
            "rollups, 7 days (chart read)",
            lambda: data.rollups_since(db, since, now + fleet.CLOCK_AHEAD),
        ),
        ("rollup_totals ($group, every rollup)", lambda: data.rollup_totals(db)),
        ("every_run (one read of every run)", lambda: data.every_run(db)),
        ("fleet_runs.fold (of that read, no server)", lambda: fleet_runs.fold(runs)),
        ("runs_in_order (the top 10 by _id)", lambda: data.runs_in_order(db, top)),
        ("health (counts, newest dead letters)", lambda: data.health(db, None)),
        ("rollups from the cut-off (new read)", lambda: data.rollups_since(db, cutoff, last)),
        ("settled sum (once a day)", lambda: data.rollup_totals_outside(db, cutoff, last)),
        ("fleet.view, nothing kept", lambda: fleet.view(db, "user", "7d", now)),
        ("fleet.view, settled sum kept", lambda: fleet.view(db, "user", "7d", now, kept=kept)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database", default="bench_dash")
    args = parser.parse_args()
    uri = os.environ.get("MONGODB_URI") or defaults.MONGODB_URI
    client: MongoClient[Document] = MongoClient(uri, tz_aware=True)
    db = client[args.database]
    meta = db["bench_meta"].find_one({"_id": "seed"})
    if meta is None:
        raise SystemExit(f"{args.database} is not seeded: run bench.dash_bench --seed-only")
    now: datetime = meta["now"]
    cutoff = settled.cutoff(now, DashSettings().settled_after_s)
    print(f"{db.name}: seeded at {now:%Y-%m-%d %H:%M} UTC; settled before {cutoff:%Y-%m-%d}")
    print(f"{'query':46} {'median s':>9} {'max s':>7} {'docs':>6}")
    for name, call in queries(db, now):
        result = call()
        times = []
        for _ in range(args.repeat):
            began = time.perf_counter()
            call()
            times.append(time.perf_counter() - began)
        size = len(result) if isinstance(result, Sized) and not isinstance(result, tuple) else ""
        print(f"{name:46} {statistics.median(times):9.3f} {max(times):7.3f} {size:>6}", flush=True)


if __name__ == "__main__":
    main()
