import dataclasses
import io
import math
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka import Producer

from joulestream import codec, schemas, simulate
from joulestream.chaos import ChaosConfig, Malformed, inject
from joulestream.events import Event, Measurement, RunStarted
from joulestream.producer import producer_config
from stack import flink
from tests import test_schema_evolution
from tests.integration.conftest import Pipeline
from tests.integration.helpers import (
    HOUR_MS,
    PRICING,
    T0_MS,
    WINDOW_MS,
    assert_same,
    behind,
    caught_up,
    committed_messages,
    documents,
    fastavro_bytes,
    send,
    varint,
    wait_until,
)
from tests.reference import Reference


def test_totals_windows_rollups_and_late_events_are_exact_under_chaos(
    pipeline: Pipeline, tmp_path: Path
):
    """A fleet sent in real arrival order with duplicates and out-of-order events (within the
    bound), one run in a region the table does not know, one run with its own intensity and PUE
    whose ``run_started`` arrives only after its windows were stored, and late events sent
    after their runs have moved on. No probe or wake-up: each run's windows follow its own
    events. MongoDB ends equal to an independent computation, to the joule and to the gram:
    duplicates counted once, late events in the runs' totals and rollups and in
    ``late_events`` but in no window, so that for every run the windows plus the late events
    add up to its totals."""
    fleet = list(simulate.fleet(runs=4, duration_s=150, start_ms=T0_MS, seed=11))
    first, second = sorted({e.run_id for e in fleet})[:2]
    fleet = [
        dataclasses.replace(e, region="ZZ") if e.run_id == first else
        dataclasses.replace(e, pue=1.25, intensity_g_per_kwh=100.0)
        if e.run_id == second and isinstance(e, RunStarted) else e
        for e in fleet
    ]  # fmt: skip
    config = ChaosConfig(out_of_order_ms=2_000, duplicate_fraction=0.1)
    sequence, manifest = inject(fleet, config, seed=5)
    assert not any(isinstance(item, Malformed) for item in sequence)
    held = [e for e in fleet if e.run_id == second and isinstance(e, RunStarted)]
    sent = [
        item
        for item in sequence
        if not isinstance(item, Malformed) and not (isinstance(item, Event) and item in held)
    ]
    assert len(manifest.duplicate_event_ids) > 30
    send(pipeline, sent, tmp_path)

    # Behind their runs' watermarks now: new measurements inside the runs' first minutes.
    late = [
        Measurement(
            run_id=run_id,
            seq=10_000 + i,
            interval_start_ms=T0_MS + 10_000 + i,
            ts_ms=T0_MS + 20_000 + i,
            user_id=e.user_id,
            project=e.project,
            model=e.model,
            region=e.region,
            cpu_energy_j=1.5,
            gpu_energy_j=0.25 * i,
            ram_energy_j=0.125,
        )
        for i, (run_id, e) in enumerate({e.run_id: e for e in fleet}.items())
    ]
    expected = Reference([*sent, *late, *held], PRICING)
    late_ids = set(expected.late())
    assert {e.event_id for e in late} <= late_ids
    windows = expected.windows(WINDOW_MS, late_ids)
    run_ids = list(expected.runs())
    wait_until(
        "every window stored",
        lambda: pipeline.db.windows.count_documents({"run_id": {"$in": run_ids}}) == len(windows),
    )
    unpriced = {"run_id": second, "intensity_source": {"$ne": "run_started event"}}
    assert pipeline.db.windows.count_documents(unpriced) > 0
    send(pipeline, [*late, *late[:1], *held], tmp_path)  # one sent twice
    wait_until(
        "late events counted",
        lambda: caught_up(pipeline, expected, len(windows), len(late_ids)),
        seen=lambda: behind(pipeline, {"runs": expected.runs()}),
    )
    # The second run's windows closed unpriced, and are written again priced.
    wait_until(
        "windows priced",
        lambda: pipeline.db.windows.count_documents(unpriced) == 0,
    )

    wait_until(
        "windows at their final versions",
        lambda: not behind(pipeline, {"windows": windows}),
        seen=lambda: behind(pipeline, {"windows": windows}),
    )
    assert_same(documents(pipeline, "runs"), expected.runs())
    assert_same(documents(pipeline, "windows"), windows)
    # The same windows reach the exactly-once Kafka topic, once each checkpoint commits.
    fields = ("events", "energy_j", "co2e_g", "cpu_co2e_g", "version")

    def in_topic() -> dict[str, object]:
        messages = committed_messages(
            pipeline.settings.bootstrap_servers, f"{pipeline.topic}.windows"
        )
        return {
            k: m and {**{f: m[f] for f in fields}, "window_start": m["window_start"][:19]}
            for k, m in messages.items()
        }

    expected_in_topic = {
        key: {
            **{f: w[f] for f in fields},
            "window_start": w["window_start"].strftime("%Y-%m-%dT%H:%M:%S"),
        }
        for key, w in windows.items()
    }
    wait_until(
        "windows in the Kafka topic",
        lambda: {k: v for k, v in in_topic().items() if k in windows} == expected_in_topic,
        timeout_s=60,
        seen=in_topic,
    )
    final = {
        "rollups": expected.rollups(HOUR_MS, WINDOW_MS, late_ids),
        "epochs": expected.epochs(),
    }
    wait_until(
        "rollups and epochs written",
        lambda: not behind(pipeline, final),
        seen=lambda: behind(pipeline, final),
    )
    assert_same(documents(pipeline, "rollups"), final["rollups"])
    assert_same(documents(pipeline, "epochs"), final["epochs"])
    assert documents(pipeline, "late_events") == expected.late_events()

    runs = expected.runs()
    assert runs[first]["intensity_fallback"] is True
    assert runs[first]["intensity_g_per_kwh"] == PRICING.table["WORLD"].intensity_g_per_kwh
    assert (runs[second]["pue"], runs[second]["intensity_source"]) == (1.25, "run_started event")
    late_energy_j = {e.event_id: e.energy_j for e in expected.measurements()}
    for run_id, run in runs.items():
        in_windows = sum(w["energy_j"] for w in windows.values() if w["run_id"] == run_id)
        in_late = sum(
            late_energy_j[d["_id"]]
            for d in expected.late_events().values()
            if d["run_id"] == run_id
        )
        assert in_windows + in_late == run["energy_j"]


def test_malformed_and_invalid_records_go_to_dead_letters_and_the_job_keeps_going(
    pipeline: Pipeline, tmp_path: Path
):
    """Undecodable bytes, an empty record and decodable records that break the contract's rules
    each become one ``dead_letters`` document with the reason and the Kafka partition and
    offset (the bytes too when they could not be decoded); the valid events around them are
    counted exactly."""
    fleet = list(simulate.fleet(runs=2, duration_s=60, start_ms=T0_MS, seed=3))
    sequence, manifest = inject(fleet, ChaosConfig(malformed_fraction=0.05), seed=9)
    assert manifest.malformed == 6
    good = next(e for e in fleet if isinstance(e, Measurement)).to_record()
    section = good["measurement"]
    invalid = [
        {**good, "event_id": "bad:1", "event_type": "heartbeat"},
        {**good, "event_id": "bad:2", "run_id": ""},
        {**good, "event_id": "bad:3", "measurement": {**section, "cpu_energy_j": -1.0}},
        {**good, "event_id": "bad:4", "measurement": {**section, "gpu_energy_j": math.nan}},
        {**good, "event_id": "bad:5", "measurement": None},
        {**good, "event_id": "bad:6", "measurement": {**section, "ram_energy_j": math.inf}},
    ]
    producer = Producer(producer_config(pipeline.settings.bootstrap_servers))
    offsets: dict[bytes | None, tuple[int, int]] = {}

    def record_offset(err: object, msg: Any) -> None:
        assert err is None
        offsets[msg.value()] = (msg.partition(), msg.offset())

    for item in sequence:
        value = item.value if isinstance(item, Malformed) else codec.encode(item.to_record())
        producer.produce(
            pipeline.topic,
            value,
            key=item.key if isinstance(item, Malformed) else item.run_id,
            on_delivery=record_offset,
        )
    for record in invalid:
        producer.produce(
            pipeline.topic, fastavro_bytes(record), key="bad", on_delivery=record_offset
        )
    # A record of a newer contract version: a field appended at the end. It counts like v1.
    newer = dataclasses.replace(
        next(e for e in fleet if isinstance(e, Measurement)), seq=9_999, ts_ms=T0_MS + 59_000
    )
    newer_schema = schemas.load(schemas.TRAINING_EVENT)
    newer_schema["fields"].append({"name": "extra", "type": ["null", "string"], "default": None})
    newer_bytes = io.BytesIO()
    fastavro.schemaless_writer(
        newer_bytes, fastavro.parse_schema(newer_schema), {**newer.to_record(), "extra": "x"}
    )
    producer.produce(pipeline.topic, newer_bytes.getvalue(), key=newer.run_id)
    producer.produce(pipeline.topic, None, key="empty", on_delivery=record_offset)
    # schema_version 1, then an event id that claims to be 200 million bytes long.
    greedy = b"\x02" + varint(200_000_000) + b"x"
    producer.produce(pipeline.topic, greedy, key="greedy", on_delivery=record_offset)
    assert producer.flush(30) == 0

    expected = Reference([*fleet, newer], PRICING)
    late = set(expected.late())  # the newer record arrives after its run_finished
    windows = len(expected.windows(WINDOW_MS, late))
    dead = 6 + len(invalid) + 2
    wait_until(
        "dead letters stored and runs counted",
        lambda: (
            pipeline.db.dead_letters.count_documents({}) == dead
            and caught_up(pipeline, expected, windows=windows, late=len(late))
        ),
        seen=lambda: (
            [(d["_id"], d["reason"]) for d in pipeline.db.dead_letters.find()],
            {d["_id"]: d["events"] for d in pipeline.db.runs.find()},
            {r: d["events"] for r, d in expected.runs().items()},
            pipeline.db.late_events.count_documents({}),
        ),
    )
    assert_same(documents(pipeline, "runs"), expected.runs())
    letters = list(pipeline.db.dead_letters.find())
    undecodable = [d for d in letters if d["reason"].startswith("undecodable")]
    malformed = {item.value for item in sequence if isinstance(item, Malformed)}
    for d in undecodable:
        assert d["raw_bytes"] in malformed | {greedy, None}
    assert {d["_id"] for d in letters} == {
        f"{pipeline.topic}/{partition}/{offset}"
        for value, (partition, offset) in offsets.items()
        if value is None
        or value in malformed | {greedy}
        or value in {fastavro_bytes(r) for r in invalid}
    }
    reasons = {d.get("event_id"): d["reason"] for d in letters}
    assert reasons["bad:1"] == "unknown event_type: heartbeat"
    assert reasons["bad:2"] == "empty run_id or event_id"
    bound = "J is not finite or not within 0 and 100000 W over the interval"
    assert reasons["bad:3"] == f"measurement.cpu_energy_j = -1.0 {bound}"
    assert reasons["bad:4"] == f"measurement.gpu_energy_j = NaN {bound}"
    assert reasons["bad:6"] == f"measurement.ram_energy_j = Infinity {bound}"
    assert reasons["bad:5"] == "a measurement event without its measurement section"
    (greedy_letter,) = [d for d in letters if d.get("raw_bytes") == greedy]
    assert greedy_letter["reason"].startswith(
        "undecodable: not an Avro training event (schemas/training_event.avsc): the record "
        "declares a string, bytes or array longer than the decoder allows"
    )
    assert "String length 200000000 exceeds maximum allowed" in greedy_letter["reason"]
    (empty_letter,) = [
        d for d in letters if d["_id"] == f"{pipeline.topic}/{offsets[None][0]}/{offsets[None][1]}"
    ]
    assert empty_letter["reason"] == "undecodable: an empty record (null value)"


def test_a_stored_newer_document_is_never_replaced_by_an_older_value(
    pipeline: Pipeline, tmp_path: Path
):
    """As after a restore that replays older totals: a run whose stored document has a larger
    ``version`` keeps it, the other runs are written, and the job keeps running."""
    fleet = list(simulate.fleet(runs=2, duration_s=30, start_ms=T0_MS, seed=4))
    guarded, other = sorted({e.run_id for e in fleet})
    newer = {"_id": guarded, "run_id": guarded, "version": 1_000_000, "energy_j": 1.5}
    old = {"_id": other, "run_id": other, "energy_j": 2.5}  # written before versions existed
    pipeline.db.runs.insert_many([newer, old])
    send(pipeline, fleet, tmp_path)
    expected = Reference(fleet, PRICING).runs()
    wait_until(
        "the other run counted",
        lambda: (
            (pipeline.db.runs.find_one({"_id": other}) or {}).get("events")
            == expected[other]["events"]
        ),
    )
    assert pipeline.db.runs.find_one({"_id": guarded}) == newer
    assert_same(documents(pipeline, "runs"), {guarded: newer, other: expected[other]})
    checkpoints = flink.checkpoints(pipeline.settings, pipeline.job_id)
    assert (
        flink.job_state(pipeline.settings, pipeline.job_id),
        checkpoints["counts"]["restored"],
    ) == (
        "RUNNING",
        0,
    )


def test_interval_intensities_and_events_of_the_previous_contract_are_priced_and_counted(
    pipeline: Pipeline, tmp_path: Path
):
    """One trainer reports the grid intensity it knew for each interval (every other
    measurement, over its run_started's own intensity, and a late one too); another is an
    older emitter that writes the previous contract (version 1, without those fields). The
    intervals are priced with their own intensity first, the old events are counted like any
    other, and runs, windows and rollups equal the reference to the joule and to the gram."""
    fleet = list(simulate.fleet(runs=2, duration_s=90, start_ms=T0_MS, seed=17))
    modern, old = sorted({e.run_id for e in fleet})
    # Multiples of 1/8 g/kWh: the products with the simulated energies (multiples of 2**-10 J)
    # add up exactly in any order.
    intensities = (212.5, None, 87.125)
    priced = [
        dataclasses.replace(e, interval_intensity_g_per_kwh=intensities[e.seq % 3])
        if isinstance(e, Measurement) and e.run_id == modern
        else dataclasses.replace(e, intensity_g_per_kwh=300.0)
        if isinstance(e, RunStarted) and e.run_id == modern
        else e
        for e in fleet
    ]  # fmt: skip
    send(pipeline, [e for e in priced if e.run_id == modern], tmp_path)
    version_1 = fastavro.parse_schema(test_schema_evolution.version_1())
    producer = Producer(producer_config(pipeline.settings.bootstrap_servers))
    for e in (e for e in priced if e.run_id == old):
        record = test_schema_evolution.v1_record(e.to_record())
        producer.produce(pipeline.topic, codec.encode(record, version_1), key=e.run_id)
    assert producer.flush(30) == 0
    last = [e for e in priced if isinstance(e, Measurement) and e.run_id == modern][-1]
    # Behind the run's watermark: inside its first minute.
    late = dataclasses.replace(
        last, seq=10_000, interval_start_ms=T0_MS + 10_000, ts_ms=T0_MS + 20_000,
        interval_intensity_g_per_kwh=40.5,
    )  # fmt: skip
    send(pipeline, [late], tmp_path)
    # What the old emitter's records can say: version 1 has no plan (contract version 3).
    as_sent = [
        dataclasses.replace(e, planned_steps=None, planned_epochs=None)
        if isinstance(e, RunStarted) and e.run_id == old
        else e
        for e in priced
    ]  # fmt: skip
    expected = Reference([*as_sent, late], PRICING)
    late_ids = set(expected.late())
    assert late_ids == {late.event_id}
    final = {
        "runs": expected.runs(),
        "windows": expected.windows(WINDOW_MS, late_ids),
        "rollups": expected.rollups(HOUR_MS, WINDOW_MS, late_ids),
    }
    wait_until(
        "every document at its final version",
        lambda: not behind(pipeline, final),
        seen=lambda: behind(pipeline, final),
    )
    for collection, docs in final.items():
        assert_same(documents(pipeline, collection), docs)
    runs = final["runs"]
    assert 0 < runs[modern]["interval_priced_energy_j"] < runs[modern]["energy_j"]
    assert runs[old]["interval_priced_energy_j"] == 0.0
    assert runs[old]["events"] == len(simulate.measurements([e for e in fleet if e.run_id == old]))
    assert pipeline.db.dead_letters.count_documents({}) == 0
