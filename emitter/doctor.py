"""``joulestream doctor``: what this host can measure, and whether a run's events would get out.

It checks, and prints what it found:

- the meters, chosen as a tracker would (RAPL, NVML, the estimates; psutil for utilisation and
  process trees), with the reason for each choice;
- the spool: its folder exists and a file can be written there;
- the broker: a metadata request within ``timeout_s``, and whether the topic is listed.

Exit status 1 on a hard problem: a meter named explicitly that cannot be used, a spool that
cannot be written, or Kafka settings that are wrong. A broker that does not answer is a warning
(the tracker spools, and ``replay`` sends later) unless ``require_broker``.
"""

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from confluent_kafka import KafkaException, Producer

from joulestream.meters.base import MeterError, is_estimate
from joulestream.meters.select import select_meters
from joulestream.producer import producer_config

DEFAULT_TIMEOUT_S = 5.0


def check_meters(cpu: str, ram: str, gpu: str) -> tuple[list[str], bool]:
    """Lines describing the meters; False on a hard problem."""
    try:
        meters = select_meters(cpu, ram, gpu)
    except MeterError as exc:
        return [f"meters: error: {exc}"], False
    try:
        host = meters.host
        lines = [
            f"host: {host.cpu_model or 'unknown CPU'}, {host.cpu_count} CPUs, "
            f"{host.cpu_packages} package(s), {host.ram_gb:.1f} GB RAM",
            f"psutil {psutil.__version__}: CPU utilisation and process trees",
            *(meter.describe() for meter in (meters.cpu, meters.ram, meters.gpu)),
            "why:",
            *(f"  {reason}" for reason in meters.reasons),
        ]
        estimates = [m.method for m in (meters.cpu, meters.ram) if is_estimate(m.method)]
        if estimates:
            lines.append(f"estimates (method names ending in _model): {', '.join(estimates)}")
    finally:
        meters.close()
    return lines, True


def check_spool(spool: Path) -> tuple[str, bool]:
    """Whether events Kafka did not take can be kept at ``spool``."""
    folder = spool.parent
    if not folder.is_dir():
        return f"spool: error: folder {folder} does not exist (JOULESTREAM_SPOOL={spool})", False
    if spool.exists() and not os.access(spool, os.W_OK):
        return f"spool: error: {spool} exists and cannot be written", False
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".joulestream-doctor-"):
            pass
    except OSError as exc:
        return f"spool: error: cannot write in {folder}: {exc.strerror or exc}", False
    return f"spool: {spool} (writable)", True


def check_broker(
    bootstrap_servers: str,
    topic: str,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    client: Callable[[dict[str, Any]], Any] = Producer,
) -> tuple[str, bool | None]:
    """One line about the broker, and True (answers), None (does not answer) or False (the
    Kafka settings are wrong)."""
    try:
        config = dict(producer_config(bootstrap_servers))
    except ValueError as exc:
        return f"kafka: error: {exc}", False
    errors: list[str] = []
    config["error_cb"] = lambda err: errors.append(err.str())
    try:
        metadata = client(config).list_topics(timeout=timeout_s)
    except KafkaException as exc:
        reason = errors[0] if errors else str(exc.args[0] if exc.args else exc)
        return (
            f"kafka: warning: {bootstrap_servers} did not answer within {timeout_s:g} s "
            f"({reason}); runs will spool their events for `joulestream replay`",
            None,
        )
    brokers = len(metadata.brokers)
    listed = (
        f"topic {topic} exists"
        if topic in metadata.topics
        else f"topic {topic} is not listed (not created yet, or this login may not describe it)"
    )
    return f"kafka: {bootstrap_servers} answered ({brokers} broker(s)); {listed}", True


def doctor(
    cpu: str,
    ram: str,
    gpu: str,
    bootstrap_servers: str,
    topic: str,
    spool: Path,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    require_broker: bool = False,
) -> int:
    """Print every finding; 1 on a hard problem, else 0."""
    lines, meters_ok = check_meters(cpu, ram, gpu)
    for line in lines:
        print(line)
    spool_line, spool_ok = check_spool(spool)
    print(spool_line)
    broker_line, broker = check_broker(bootstrap_servers, topic, timeout_s)
    print(broker_line)
    hard = not meters_ok or not spool_ok or broker is False or (require_broker and not broker)
    if hard:
        print("doctor: a problem above stops a tracker from working as asked", file=sys.stderr)
    return 1 if hard else 0
