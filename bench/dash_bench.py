"""Dashboard benchmark: each page's callbacks on 1,000 runs and a million stored windows.

Needs the MongoDB-compatible server (``make up``). Seeds the database ``bench_dash`` once (kept
for later runs; ``--reseed`` drops and writes it again), then times each page's callbacks, the
median of several calls; a callback that reads ``windows`` (minutes on FerretDB) is called once,
without a warm-up, and so is Fleet with nothing kept yet (the app's first refresh of a day):

    .venv/bin/python -m bench.dash_bench [--runs 1000] [--windows 1000] [--repeat 3]

Prints its figures; they are quoted in ``docs/benchmarks.md``. Not a test: nothing here asserts
a time.
"""

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from bench import dash_seed
from joulestream.dash_app import app as dash_app
from joulestream.dash_app import settled
from joulestream.dash_app.pages import compare, fleet, leaderboards, run, runs
from joulestream.schemas import defaults
from joulestream.schemas.documents import ensure_indexes

Document = dict[str, Any]
META = "bench_meta"  # when the data was seeded: the pages' "now"


def seeded_now(db: Database[Document], runs: int, windows: int, reseed: bool) -> datetime:
    """The seeding time of a database holding this fleet; seeds it first when it does not."""
    meta = db[META].find_one({"_id": "seed"})
    if meta and not reseed and (meta["runs"], meta["windows"]) == (runs, windows):
        print(f"reusing {db.name}: seeded {meta['now']:%Y-%m-%d %H:%M} UTC in {meta['seed_s']} s")
        ensure_indexes(db)  # indexes added since the seeding
        return meta["now"]  # type: ignore[no-any-return]
    db.client.drop_database(db.name)
    ensure_indexes(db)
    now = datetime.now(UTC).replace(microsecond=0)
    began = time.perf_counter()
    written = dash_seed.seed(db, runs, windows, now)
    seed_s = round(time.perf_counter() - began, 1)
    db[META].insert_one({"_id": "seed", "runs": runs, "windows": windows, "now": now})
    db[META].update_one({"_id": "seed"}, {"$set": {"seed_s": seed_s, "documents": written}})
    print(f"seeded {db.name}: {written:,} documents in {seed_s} s")
    return now


def page_calls(
    db: Database[Document], now: datetime
) -> list[tuple[str, Callable[[], object], bool]]:
    """What each page's callbacks compute on one refresh, as the app calls it, and whether the
    callback is timed once, without a warm-up (it reads ``windows``, or fills a cache)."""
    newest = [r["run_id"] for r in db.runs.find({}, {"run_id": 1}).sort("last_event_at", -1)]
    one, five = newest[0], newest[:5]
    user = db.runs.find_one({"_id": one}, {"user_id": 1}) or {}
    kept = settled.SettledTotals()  # as the app keeps one: filled by the first call
    return [
        ("banner (ping)", lambda: dash_app.banner(db), False),
        (
            "fleet, first call (settled sum)",
            lambda: fleet.view(db, "user", "7d", now, kept=settled.SettledTotals()),
            True,
        ),
        ("fleet, by user, 7 days", lambda: fleet.view(db, "user", "7d", now, kept=kept), False),
        ("runs, no filter", lambda: runs.view(db, {}, None, None), False),
        (
            "runs, one user, a date range",
            lambda: runs.view(db, {"user": [user["user_id"]]}, "2000-01-01", f"{now:%Y-%m-%d}"),
            False,
        ),
        ("run detail: run, cards, epochs", lambda: run.view(db, one), False),
        ("run detail: windows' charts (1,000)", lambda: run.windows_view(db, one), True),
        ("run what-if", lambda: run.what_if(db, one, "SE"), False),
        ("compare, 5 runs (with epochs)", lambda: compare.view(db, five), False),
        ("leaderboards", lambda: leaderboards.view(db), False),
    ]


def timed(call: Callable[[], object], repeat: int, warm_up: bool) -> tuple[float, float]:
    """(median, max) seconds of ``repeat`` calls, after one warm-up call if asked."""
    if warm_up:
        call()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--windows", type=int, default=1000, help="windows per run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", default="bench_dash")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--no-warm-up", action="store_true", help="for slow servers: no extra call")
    parser.add_argument("--seed-only", action="store_true")
    args = parser.parse_args()
    uri = os.environ.get("MONGODB_URI") or defaults.MONGODB_URI
    client: MongoClient[Document] = MongoClient(uri, tz_aware=True)
    db = client[args.database]
    now = seeded_now(db, args.runs, args.windows, args.reseed)
    if args.seed_only:
        return
    print(f"{'page / callback':40} {'calls':>5} {'median s':>9} {'max s':>7}")
    for name, call, once in page_calls(db, now):
        repeat = 1 if once else args.repeat
        median_s, max_s = timed(call, repeat, not (args.no_warm_up or once))
        print(f"{name:40} {repeat:5} {median_s:9.3f} {max_s:7.3f}", flush=True)


if __name__ == "__main__":
    main()
