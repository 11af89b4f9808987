"""Names from the documents are shown as written: literal in the table's markdown and in Plotly's
labels, links built from the encoded id, and no formula in a CSV export."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from joulestream.dash_app import escape, exports, figures

HOSTILE_LINK = "[pay here](https://evil.example/)"
HOSTILE_HTML = '<a href="https://evil.example/">mallory</a>'
AT = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)


def test_markdown_escapes_every_character_with_a_meaning():
    """Links, images, autolinks, emphasis, code and entities become literal text; "-" and "."
    (no inline meaning) stay, and a line break is a space."""
    assert escape.markdown(HOSTILE_LINK) == r"\[pay here\]\(https\:\/\/evil.example\/\)"
    assert escape.markdown("![x](http://a/b.png)") == r"\!\[x\]\(http\:\/\/a\/b.png\)"
    assert escape.markdown("<https://evil.example>") == r"\<https\:\/\/evil.example\>"
    assert escape.markdown("*a* _b_ `c` ~~d~~ &amp; \\") == (
        r"\*a\* \_b\_ \`c\` \~\~d\~\~ \&amp\; \\"
    )
    assert escape.markdown("run-1.2") == "run-1.2"
    assert escape.markdown("a\n# b\r\n- c") == r"a \# b  - c"


def test_run_link_shows_the_id_and_points_at_its_encoded_page():
    """The link text is the escaped id; the address encodes every reserved character."""
    assert escape.run_link("run-a") == "[run-a](/run/run-a)"
    assert escape.run_link("a/b c?d#e") == r"[a\/b c\?d\#e](/run/a%2Fb%20c%3Fd%23e)"
    assert escape.run_link(HOSTILE_LINK) == (
        r"[\[pay here\]\(https\:\/\/evil.example\/\)]"
        "(/run/%5Bpay%20here%5D%28https%3A%2F%2Fevil.example%2F%29)"
    )
    row = figures.run_rows([{"run_id": HOSTILE_LINK}])[0]
    assert (row["id"], row["run_id"], row["run"]) == (
        HOSTILE_LINK,
        HOSTILE_LINK,
        escape.run_link(HOSTILE_LINK),
    )


def test_plotly_text_is_entity_escaped():
    """Plotly reads a subset of HTML in labels; ``&``, ``<`` and ``>`` become entities."""
    assert escape.plotly(HOSTILE_HTML) == '&lt;a href="https://evil.example/"&gt;mallory&lt;/a&gt;'
    assert escape.plotly("a&b<br>") == "a&amp;b&lt;br&gt;"
    assert escape.plotly("alice") == "alice"


def test_fleet_and_compare_figures_escape_names_in_legends_and_ticks():
    """A user or run named in HTML is a literal legend entry, tick label and hover name."""
    rollups = [{"user_id": HOSTILE_HTML, "period_start": AT, "energy_j": 3_600_000.0}]
    fleet = figures.fleet_figure(rollups, "user_id", "energy_j", None)
    assert [trace.name for trace in fleet.data] == [escape.plotly(HOSTILE_HTML)]
    run = {"run_id": HOSTILE_HTML, "energy_j_per_sample": 2.0}
    windows = [
        {"window_start": AT, "window_end": AT + timedelta(minutes=1), "energy_j": 3600.0,
         "co2e_g": 1.0, "loss": 0.5}
    ]  # fmt: skip
    co2e, per_sample, loss = figures.compare_figures([run], {}, {HOSTILE_HTML: windows})
    label = escape.plotly(HOSTILE_HTML)
    assert [t.name for t in (*co2e.data, *per_sample.data, *loss.data)] == [label] * 3
    assert list(per_sample.data[0].x) == [label]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("https://evil.example/","x")', '\'=HYPERLINK("https://evil.example/","x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\n=1", "'\n=1"),
        ("alice", "alice"),
        ("a=b", "a=b"),
        ("", ""),
        (-1.5, -1.5),
        (None, None),
    ],
)
def test_csv_cells_that_start_a_formula_get_a_quote(value, expected):
    """Text starting with = + - @, a tab or a line break is prefixed with '; the rest as is."""
    assert escape.csv_cell(value) == expected


def test_runs_export_writes_plain_ids_raw_numbers_and_neutralised_text():
    """The CSV export has named columns with units, the plain run id (not its link), the
    stored numbers unrounded, flags as true/false and no cell a spreadsheet would run; the JSON
    export holds the same record."""
    run = {"run_id": "=1+1", "user_id": "@alice", "model": "m,1", "energy_j": 3_600_000.0,
           "co2e_g": 500.0, "started_at": AT, "last_event_at": AT + timedelta(seconds=90),
           "status": "completed", "intensity_fallback": True, "gpu_methods": ["nvml"]}  # fmt: skip
    rows = figures.run_rows([run], AT)
    columns = ["run_id", "user_id", "model", "started_at_utc", "duration_s", "energy_j",
               "co2e_g", "cost_eur", "intensity_fallback", "energy_estimated"]  # fmt: skip
    assert exports.to_csv(rows, columns).split("\r\n") == [
        ",".join(columns),
        "'=1+1,'@alice,\"m,1\",2026-01-02T03:00:00.000Z,90.0,3600000.0,500.0,0.25,true,false",
        "",
    ]
    assert json.loads(exports.to_json(rows, columns)) == [
        {"run_id": "=1+1", "user_id": "@alice", "model": "m,1",
         "started_at_utc": "2026-01-02T03:00:00.000Z", "duration_s": 90.0,
         "energy_j": 3600000.0, "co2e_g": 500.0, "cost_eur": 0.25, "intensity_fallback": True,
         "energy_estimated": False}
    ]  # fmt: skip


def test_export_follows_the_tables_sort_with_empty_values_last():
    """Rows come out in the table's sort order, each shown column by its raw value (the run
    column by id, energy by joules); empty values go last."""
    rows = [
        {"run_id": "b", "energy_j": 7200.0, "energy": "2.00 Wh", "user_id": None},
        {"run_id": "a", "energy_j": 7200.0, "energy": "2.00 Wh", "user_id": "zoe"},
        {"run_id": "c", "energy_j": 1_800_000.0, "energy": "500 Wh", "user_id": "al"},
    ]
    columns = ["run", "energy", "user_id"]

    def by(sort_by: object) -> list[str]:
        return [r["run_id"] for r in figures.sorted_rows(rows, sort_by, columns)]

    assert by(None) == ["b", "a", "c"]
    # "500 Wh" sorts after "2.00 Wh" as text but before it as joules.
    assert by([{"column_id": "energy", "direction": "desc"}]) == ["c", "b", "a"]
    assert by([{"column_id": "run", "direction": "asc"}]) == ["a", "b", "c"]
    assert by([{"column_id": "user_id", "direction": "desc"}]) == ["a", "c", "b"]
