"""Feeding grid.intensity: the CSV reader, the simulated diurnal feed, the sender and the CLI."""

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from joulestream.grid import codec, csv_source, send, simulated
from joulestream.grid.cli import main
from joulestream.grid.events import GridIntensity
from joulestream.grid.parsing import Problem, SourceFormatError
from joulestream.producer import producer_config

T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOUR_MS = 3_600_000
DEFAULTS = csv_source.Defaults(published_at_ms=T0_MS)


def period(zone: str, start_ms: int, value: float, **overrides: Any) -> GridIntensity:
    fields: dict[str, Any] = {
        "zone": zone,
        "start_ms": start_ms,
        "end_ms": start_ms + HOUR_MS,
        "intensity_g_per_kwh": value,
        "kind": "average",
        "source": "ENTSO-E",
        "published_at_ms": T0_MS,
        "estimated": None,
    }
    fields.update(overrides)
    return GridIntensity(**fields)


CSV = """\
# FR and DE, hourly, from a grid operator's export
zone,start,end,intensity_g_per_kwh,source,kind,published_at,estimated
FR,2026-01-01T00:00Z,2026-01-01T01:00Z,41.5,ENTSO-E,,,
FR,2026-01-01T01:00:00+01:00,1767229200000,39,ENTSO-E,average,2026-01-01T02:00Z,false
DE,1767225600000,1767229200000,512.25,ENTSO-E,marginal,,true
"""


def test_csv_rows_become_periods_with_iso_or_epoch_times():
    """ISO 8601 with any offset or epoch ms; empty optional cells take the file's defaults."""
    parsed = csv_source.read_lines(CSV.splitlines(keepends=True), DEFAULTS)
    assert parsed.problems == []
    assert parsed.events == [
        period("FR", T0_MS, 41.5),
        # 01:00+01:00 is 00:00Z: the same hour, published later (a revision).
        period("FR", T0_MS, 39.0, published_at_ms=T0_MS + 2 * HOUR_MS, estimated=False),
        period("DE", T0_MS, 512.25, kind="marginal", estimated=True),
    ]


def test_csv_bad_rows_are_reported_by_line_and_the_others_are_read():
    text = CSV + "\n".join(
        [
            "PL,2026-01-01T00:00,2026-01-01T01:00Z,700,ENTSO-E,,,",  # naive time
            "PL,2026-01-01T00:00Z,2026-01-01T01:00Z,7e5,ENTSO-E,,,",  # g/MWh
            "PL,2026-01-01T00:00Z,2026-01-01T01:00Z,700,ENTSO-E,lifecycle,,",
            "PL,2026-01-01T00:00Z,2026-01-01T01:00Z,700,ENTSO-E,,,maybe",
            "PL,2026-01-01T00:00Z",
            "PL,1767225600,1767229200,700,ENTSO-E,,,",  # seconds
        ]
    )
    parsed = csv_source.read_lines(text.splitlines(keepends=True), DEFAULTS)
    assert len(parsed.events) == 3
    assert [str(p) for p in parsed.problems] == [
        "line 6: start '2026-01-01T00:00' has no UTC offset (add 'Z' or '+00:00')",
        "line 7: intensity_g_per_kwh must be finite and within [0, 2000], got 700000.0",
        "line 8: kind must be one of ('average', 'marginal'), got 'lifecycle'",
        "line 9: estimated must be true, false or empty, got 'maybe'",
        "line 10: 2 cells, the header has 8",
        "line 11: start_ms must be UTC epoch milliseconds in [946684800000, 253402300799999] "
        "(2000-01-01 to 9999-12-31), got 1767225600: seconds or nanoseconds?",
    ]


def test_csv_zone_source_and_period_may_be_given_for_the_whole_file():
    defaults = csv_source.Defaults(
        published_at_ms=T0_MS, zone="gcp:europe-west1", source="my utility", period_ms=HOUR_MS
    )
    lines = ["start,intensity_g_per_kwh\n", "2026-01-01T00:00Z,120\n", "2026-01-01T01:00Z,95\n"]
    assert csv_source.read_lines(lines, defaults).events == [
        period("gcp:europe-west1", T0_MS, 120.0, source="my utility"),
        period("gcp:europe-west1", T0_MS + HOUR_MS, 95.0, source="my utility"),
    ]


def test_csv_a_header_without_a_needed_column_is_refused():
    with pytest.raises(SourceFormatError, match="line 1: the header lacks source, end"):
        csv_source.read_lines(["zone,start,intensity_g_per_kwh\n"], DEFAULTS)
    with pytest.raises(SourceFormatError, match="the file is empty"):
        csv_source.read_lines(["# nothing\n"], DEFAULTS)


def test_the_simulated_feed_is_deterministic_and_moves_with_the_hour():
    """Same seed, same values, whatever the range asked; an evening peak over a midday dip."""
    day = simulated.diurnal(["FR", "PL"], T0_MS + 1234, 24, seed=42)
    assert len(day) == 48
    assert (day[0].start_ms, day[0].end_ms, day[0].published_at_ms) == (
        T0_MS, T0_MS + HOUR_MS, T0_MS
    )  # fmt: skip
    later = simulated.diurnal(["PL"], T0_MS + 12 * HOUR_MS, 3, seed=42)
    assert later == day[24 + 12 : 24 + 15]
    assert simulated.diurnal(["PL"], T0_MS, 24, seed=7) != day[24:]
    pl = [e.intensity_g_per_kwh for e in day[24:]]
    assert pl == [
        808.1, 769.4, 731.8, 713.4, 643.3, 622.8, 583.6, 546.5, 513.3, 490.3, 450.7, 453.3,
        415.7, 418.5, 447.2, 473.9, 541.8, 600.3, 654.5, 712.3, 759.6, 821.8, 834.0, 816.5,
    ]  # fmt: skip
    # Peaks in the zone's evening, dips around its midday (its day is shifted by the seed).
    assert pl.index(min(pl)) == 12
    assert max(pl) / min(pl) > 2  # the table says 662 g/kWh for the year
    assert {(e.source, e.kind) for e in day} == {("simulated", "average")}


def test_the_simulated_feed_prices_an_unknown_zone_around_the_world_figure():
    (event,) = simulated.diurnal(["XX"], T0_MS, 1, seed=1)
    assert 481 * 0.5 < event.intensity_g_per_kwh < 481 * 1.5


class FakeProducer:
    """Stands in for confluent_kafka.Producer: records what is produced, acknowledges on
    flush."""

    produced: list[tuple[str, str, bytes]]
    instances: ClassVar[list["FakeProducer"]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.produced = []
        self.pending: list[Any] = []
        FakeProducer.instances.append(self)

    def produce(self, topic: str, value: bytes, key: str, on_delivery: Any) -> None:
        self.produced.append((topic, key, value))
        self.pending.append(on_delivery)

    def poll(self, _timeout: float) -> int:
        return 0

    def flush(self, _timeout: float) -> int:
        for report in self.pending:
            report(None, None)
        self.pending = []
        return 0


def test_send_keys_by_zone_in_period_order_with_the_encoded_records(monkeypatch):
    monkeypatch.setattr(send, "Producer", FakeProducer)
    events = [
        period("PL", T0_MS + HOUR_MS, 700.0),
        period("FR", T0_MS + HOUR_MS, 40.0),
        period("PL", T0_MS, 710.0, published_at_ms=T0_MS + 5),
        period("PL", T0_MS, 705.0),
    ]
    summary = send.send(events, "grid.intensity", {"bootstrap.servers": "x"})
    assert (summary.sent, summary.delivered, summary.failures, summary.ok) == (4, 4, [], True)
    produced = FakeProducer.instances[-1].produced
    assert [(topic, key) for topic, key, _ in produced] == [("grid.intensity", "FR")] + [
        ("grid.intensity", "PL")
    ] * 3
    assert [codec.decode(value) for _, _, value in produced] == [
        events[1], events[3], events[2], events[0]
    ]  # fmt: skip


def test_send_reports_every_period_kafka_did_not_acknowledge():
    """A closed port: each period is reported as not delivered, none is lost silently."""
    config = producer_config("127.0.0.1:9", message_timeout_ms=500)
    summary = send.send([period("FR", T0_MS, 41.5)], "grid.intensity", config, timeout_s=1.5)
    assert (summary.sent, summary.delivered, summary.ok) == (1, 0, False)
    assert len(summary.failures) == 1
    assert summary.failures[0].startswith("FR [1767225600000, 1767229200000): not delivered: ")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[Any], str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_cli_csv_prints_the_records_it_would_send(tmp_path: Path, capsys):
    path = tmp_path / "series.csv"
    path.write_text(CSV)
    code, records, err = run(
        ["csv", str(path), "--print", "--published-at", "1767225600000"], capsys
    )
    assert code == 0
    assert records[0] == {
        "schema_version": 1,
        "zone": "DE",
        "start_ms": T0_MS,
        "end_ms": T0_MS + HOUR_MS,
        "intensity_g_per_kwh": 512.25,
        "kind": "marginal",
        "source": "ENTSO-E",
        "published_at_ms": T0_MS,
        "estimated": True,
    }
    assert [(r["zone"], r["intensity_g_per_kwh"]) for r in records] == [
        ("DE", 512.25), ("FR", 41.5), ("FR", 39.0)
    ]  # fmt: skip
    assert err == "3 periods, 0 entries skipped\n"


def test_cli_exit_codes(tmp_path: Path, capsys, monkeypatch):
    """1 when an entry was skipped (each reported), 2 for a file or settings it cannot use."""
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV + "PL,2026-01-01T00:00Z,2026-01-01T01:00Z,-3,ENTSO-E,,,\n")
    code, records, err = run(["csv", str(bad), "--print"], capsys)
    assert (code, len(records)) == (1, 3)
    assert f"{bad}: line 6: intensity_g_per_kwh must be finite" in err

    assert run(["csv", str(tmp_path / "none.csv"), "--print"], capsys)[0] == 2
    notjson = tmp_path / "history.json"
    notjson.write_text("{")
    code, _, err = run(["electricitymaps", str(notjson), "--print"], capsys)
    assert code == 2
    assert err.startswith(f"error: {notjson}: {notjson} is not JSON")

    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    code, _, err = run(["simulate", "--zones", "FR", "--hours", "1"], capsys)
    assert code == 2
    assert "KAFKA_SASL_MECHANISM must be one of" in err


def test_cli_sends_to_the_shared_grid_topic_or_the_one_set(capsys, monkeypatch):
    """The topic is ``schemas.defaults.GRID_TOPIC``, the job's default too, unless
    ``JOULESTREAM_GRID_TOPIC`` names another."""
    monkeypatch.setattr(send, "Producer", FakeProducer)
    monkeypatch.delenv("JOULESTREAM_GRID_TOPIC", raising=False)
    topics = []
    for topic in (None, "site.grid"):
        if topic is not None:
            monkeypatch.setenv("JOULESTREAM_GRID_TOPIC", topic)
        code, _, err = run(["simulate", "--zones", "FR", "--hours", "1"], capsys)
        assert code == 0, err
        topics.append({sent for sent, _, _ in FakeProducer.instances[-1].produced})
    assert topics == [{"grid.intensity"}, {"site.grid"}]


def test_cli_reads_each_source(capsys):
    fixtures = Path(__file__).parent / "fixtures" / "grid"
    for command, name, count in (
        ("electricitymaps", "electricitymaps_history_DE.json", 5),
        ("gb-carbon-intensity", "gb_intensity_national.json", 3),
        ("watttime", "watttime_historical_CAISO_NORTH.json", 2),
    ):
        code, records, _ = run([command, str(fixtures / name), "--print"], capsys)
        assert (code, len(records)) == (0, count)
    code, records, _ = run(
        [
            "gb-carbon-intensity",
            str(fixtures / "gb_regional_all.json"),
            "--region-id",
            "3",
            "--zone",
            "GB-NW",
            "--published-at",
            "2026-01-01T00:00Z",
            "--print",
        ],
        capsys,
    )
    assert records == [
        {
            "schema_version": 1,
            "zone": "GB-NW",
            "start_ms": 1_516_449_600_000,
            "end_ms": 1_516_451_400_000,
            "intensity_g_per_kwh": 266.0,
            "kind": "average",
            "source": "Carbon Intensity API (GB)",
            "published_at_ms": T0_MS,
            "estimated": True,
        }
    ]


def test_cli_simulate_prints_the_seeded_series(capsys):
    code, records, _ = run(
        ["simulate", "--zones", "PL", "--start", "2026-01-01T12:00Z", "--hours", "3", "--print"],
        capsys,
    )
    assert code == 0
    assert [(r["start_ms"], r["intensity_g_per_kwh"]) for r in records] == [
        (T0_MS + 12 * HOUR_MS, 415.7), (T0_MS + 13 * HOUR_MS, 418.5), (T0_MS + 14 * HOUR_MS, 447.2)
    ]  # fmt: skip


def test_problem_reads_as_where_and_why():
    assert str(Problem("line 3", "bad")) == "line 3: bad"
