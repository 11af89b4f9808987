"""Sum a Java Flight Recorder recording of the TaskManager: CPU samples and waits, by thread
and by stack. How the run accounting's profile in ``docs/benchmarks.md`` was read:

    jcmd <TaskManager pid> JFR.start duration=30s settings=profile filename=/tmp/tm.jfr
    .venv/bin/python -m bench.jfr_profile /tmp/tm.jfr [--thread run-accounting]

Needs the JDK's ``jfr`` tool on PATH. Not a test: nothing here asserts a time.
"""

import argparse
import collections
import json
import re
import subprocess
from typing import Any

SAMPLES = "jdk.ExecutionSample"
WAITS = "jdk.ThreadPark,jdk.JavaMonitorEnter,jdk.JavaMonitorWait,jdk.ThreadSleep,jdk.SocketRead"
# Frames that say only "this thread waits": the caller below them says what for.
_PLUMBING = ("Unsafe.", "LockSupport.", "AbstractQueuedSynchronizer", "ForkJoinPool.")


def events(path: str, kinds: str, depth: int) -> list[dict[str, Any]]:
    argv = ["jfr", "print", "--json", "--stack-depth", str(depth), "--events", kinds, path]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    found: list[dict[str, Any]] = json.loads(out)["recording"]["events"]
    return found


def seconds(duration: str) -> float:
    """An ISO-8601 duration as JFR prints it (``PT1.5S``, ``PT2M3S``) in seconds."""
    units = {"H": 3600.0, "M": 60.0, "S": 1.0}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)([HMS])", duration))


def thread(event: dict[str, Any]) -> str:
    values = event["values"]
    t = values.get("sampledThread") or values.get("eventThread") or {}
    return f"{t.get('javaName') or t.get('osName') or '?'} #{t.get('javaThreadId')}"


def frames(event: dict[str, Any]) -> list[str]:
    trace = event["values"].get("stackTrace") or {}
    return [
        f"{f['method']['type']['name'].rsplit('/', 1)[-1]}.{f['method']['name']}"
        for f in trace.get("frames") or []
    ]


def report(path: str, needle: str, top: int) -> None:
    samples = events(path, SAMPLES, 40)
    by_thread = collections.Counter(thread(e) for e in samples)
    print(f"{len(samples)} CPU samples; by thread:")
    for name, n in by_thread.most_common(top):
        print(f"  {n:6d} {100 * n / len(samples):5.1f} %  {name[:110]}")
    chosen = [e for e in samples if needle in thread(e)]
    own = collections.Counter(frames(e)[0] for e in chosen if frames(e))
    within = collections.Counter(f for e in chosen for f in set(frames(e)))
    print(f"\n{len(chosen)} samples in threads named like {needle!r}; top frames (self):")
    for frame, n in own.most_common(top):
        print(f"  {n:6d} {100 * n / max(len(chosen), 1):5.1f} %  {frame}")
    print("frames on the stack (total):")
    for frame, n in within.most_common(top):
        print(f"  {n:6d} {100 * n / max(len(chosen), 1):5.1f} %  {frame}")
    waited: dict[tuple[str, str], float] = collections.defaultdict(float)
    for e in events(path, WAITS, 14):
        if needle in thread(e):
            why = " < ".join(f for f in frames(e) if not f.startswith(_PLUMBING))[:300]
            waited[(thread(e)[:60], why)] += seconds(e["values"]["duration"])
    print(f"\nwaits (JFR's thresholds) in threads named like {needle!r}:")
    for (name, why), s in sorted(waited.items(), key=lambda item: -item[1])[:top]:
        print(f"  {s:7.2f} s  {name}\n             {why}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording")
    parser.add_argument("--thread", default="", help="only threads whose name has this text")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    report(args.recording, args.thread, args.top)


if __name__ == "__main__":
    main()
