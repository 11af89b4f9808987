"""Live, stale and lost runs.

The job marks a run ``lost`` once it has sent nothing for ``JOULESTREAM_LOST_AFTER_S`` (and
``running`` again if it resumes), but only while the job runs and only on its own clock. The
dashboard also looks at the last event's age: a ``running`` run silent for longer than
``DashSettings.stale_after_s`` is shown as stale and not counted as live, so a fleet that
stopped reporting stops counting within minutes whatever the job does.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from joulestream.dash_app import units

LIVE = "live"
STALE = "stale"


def state(run: Mapping[str, Any], now: datetime, stale_after: timedelta) -> str:
    """``live`` (running and heard from within ``stale_after``), ``stale`` (running but silent
    for longer, or never heard from), else the job's status (``lost``, ``completed``, …)."""
    status = str(run.get("status") or "unknown")
    if status != "running":
        return status
    last = run.get("last_event_at")
    return LIVE if last is not None and now - last <= stale_after else STALE


def status_text(run: Mapping[str, Any], now: datetime, stale_after: timedelta) -> str:
    """The status a person reads: ``running``, ``stale (silent 7 min)``, ``lost``, …"""
    shown = state(run, now, stale_after)
    if shown == LIVE:
        return "running"
    if shown == STALE:
        last = run.get("last_event_at")
        silent = f" (silent {units.duration((now - last).total_seconds())})" if last else ""
        return f"stale{silent}"
    return shown
