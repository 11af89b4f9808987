"""The offline smoke test ``stack.wheelcheck`` runs in each clean environment, outside the
repository: ``python -I wheel_smoke.py BOOTSTRAP STOP_TIMEOUT_S SLACK_S``, in an empty folder.

It imports only the installed wheel and the standard library, and must run on Python 3.10.
A tracker sends to BOOTSTRAP (nothing listens there) for a short run; its ``stop`` must return
within STOP_TIMEOUT_S + SLACK_S, the run's events must all be in the spool, the summary logged.
Prints one line; exits non-zero with the reason otherwise.
"""

import io
import json
import logging
import os
import sys
import time
from pathlib import Path


def main() -> int:
    bootstrap, stop_timeout_s, slack_s = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    spool = Path.cwd() / "spool.jsonl"
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    os.environ["JOULESTREAM_SPOOL"] = str(spool)
    logs = io.StringIO()
    logging.basicConfig(
        level=logging.INFO, stream=logs, format="%(name)s %(levelname)s %(message)s"
    )

    import joulestream
    from joulestream import Tracker

    tracker = Tracker(model="smoke", region="FR", interval_s=0.2, stop_timeout_s=stop_timeout_s)
    with tracker:
        for step in range(3):
            time.sleep(0.2)
            tracker.log(step=step, samples=32)
        stop_started = time.monotonic()
    stop_s = time.monotonic() - stop_started
    problems = []
    if stop_s > stop_timeout_s + slack_s:
        problems.append(f"stop took {stop_s:.2f} s, deadline {stop_timeout_s:g} s + {slack_s:g}")
    lines = spool.read_text().splitlines() if spool.exists() else []
    records = [json.loads(line) for line in lines]
    kinds = [r["event_type"] for r in records]
    ends = kinds[:1] == ["run_started"] and kinds[-1:] == ["run_finished"]
    if not (ends and "measurement" in kinds):
        problems.append(f"expected run_started, measurements, run_finished in the spool: {kinds}")
    if [r["seq"] for r in records] != list(range(len(records))):
        problems.append(f"events missing from the spool: seqs {[r['seq'] for r in records]}")
    summary = tracker.summary
    if summary is None or summary.line() not in logs.getvalue():
        problems.append("no kWh/CO2e summary logged")
    broker_lines = [line for line in logs.getvalue().splitlines() if "WARNING" in line]
    if len(broker_lines) != 1:
        problems.append(f"expected one warning about the broker, got {broker_lines}")
    if problems:
        print("; ".join(problems), file=sys.stderr)
        print(logs.getvalue(), file=sys.stderr)
        return 1
    assert summary is not None
    events = len(records)
    print(
        f"joulestream from {Path(joulestream.__file__).parent.parent.name}, stop {stop_s:.2f} s, "
        f"{events} events spooled, {summary.energy_kwh:.3g} kWh"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
