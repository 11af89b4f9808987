"""The "when would it have been greenest" what-if (dash_app/greenest.py) on a hand-made hourly
series, to the gram: 0.01 kWh (36,000 J) at PUE 1.5 and 100 g/kWh is 1.5 g."""

from datetime import UTC, datetime, timedelta

import pytest

from joulestream.dash_app import checks, params
from joulestream.dash_app.greenest import Greenest, Period, Series, Start, greenest
from joulestream.dash_app.pages import common
from joulestream.dash_app.pages import run as run_page

MS = timedelta(milliseconds=1)
H = 3_600_000
M = 60_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
START = T0 + 10 * H + 20 * M  # 10:20
# 10:20 and 10:40 (108,000 J in the 10:00 period), 11:10 (36,000 J in the 11:00 period).
WINDOWS = [(START, 36_000.0), (T0 + 10 * H + 40 * M, 72_000.0), (T0 + 11 * H + 10 * M, 36_000.0)]
# 08:00 100, 09:00 50, 10:00 300, 11:00 200, 12:00 400 g/kWh; nothing from 13:00.
FIGURES = {8: 100.0, 9: 50.0, 10: 300.0, 11: 200.0, 12: 400.0}
SERIES = [Period(T0 + h * H, T0 + (h + 1) * H, g, T0) for h, g in FIGURES.items()]
AROUND_3H = (START - 3 * H, START + 3 * H)


def test_the_cheapest_whole_period_shift_in_the_range_wins():
    """Shifted by -3 h to +3 h: -2 h prices 108,000 J at 100 and 36,000 J at 50 (4.5 + 0.75 g);
    +3 h meets no figure and is no candidate; -3 h and +2 h are candidates priced partly with
    the run's own 381 g/kWh."""
    result = greenest(WINDOWS, SERIES, START, AROUND_3H, pue=1.5, own_intensity_g_per_kwh=381.0)
    assert result == Greenest(Start(-2 * H, 5.25, 0.0), H, 6)


def test_every_start_in_the_range_is_priced_to_the_gram():
    """A range of one start each: the actual start (13.5 + 3.0 g) and +2 h, whose 11:10 window
    falls in 13:00, a period with no figure (18.0 g + 36,000 J at 381 g/kWh)."""
    actual = greenest(WINDOWS, SERIES, START, (START, START), 1.5, 381.0)
    assert actual == Greenest(Start(0, 16.5, 0.0), H, 1)
    later = greenest(WINDOWS, SERIES, START, (START + 2 * H, START + 2 * H), 1.5, 381.0)
    assert later == Greenest(Start(2 * H, 18.0 + 36_000.0 * 1.5 * 381.0 / 3_600_000.0, 36_000.0),
                             H, 1)  # fmt: skip


def test_energy_in_no_window_is_priced_with_the_runs_own_intensity_at_every_start():
    """The run's late events' 36,000 J at 400 g/kWh (6 g) add to every start alike."""
    result = greenest(WINDOWS, SERIES, START, AROUND_3H, 1.5, 400.0, other_energy_j=36_000.0)
    assert result == Greenest(Start(-2 * H, 11.25, 0.0), H, 6)


def test_a_range_whose_ends_are_not_whole_periods_away_holds_only_the_starts_inside():
    """From 08:50 to 11:19: shifts of -1 h (09:20) and 0 only."""
    result = greenest(WINDOWS, SERIES, START, (START - 90 * M, START + 59 * M), 1.5, 381.0)
    assert result == Greenest(Start(-H, 6.75, 0.0), H, 2)


def test_of_equal_totals_the_start_nearest_the_runs_own_wins():
    flat = [Period(T0 + h * H, T0 + (h + 1) * H, 100.0, T0) for h in range(24)]
    result = greenest(WINDOWS, flat, START, AROUND_3H, 1.0, 381.0)
    assert result == Greenest(Start(0, 4.0, 0.0), H, 7)


def test_no_window_no_period_or_no_figure_in_reach_is_no_answer():
    assert greenest([], SERIES, START, AROUND_3H, 1.5, 381.0) is None
    assert greenest(WINDOWS, [], START, AROUND_3H, 1.5, 381.0) is None
    far = (START + 10 * H, START + 20 * H)
    assert greenest(WINDOWS, SERIES, START, far, 1.5, 381.0) is None


def test_the_shift_is_the_shortest_period_on_the_series_grid():
    """Half-hourly periods: 10:20 and 10:40 fall in two periods; shifted by whole half hours."""
    halves = [Period(T0 + h * H // 2, T0 + (h + 1) * H // 2, 100.0 * (h % 2 + 1), T0)
              for h in range(16, 26)]  # fmt: skip
    # 10:00 at 100, 10:30 at 200, 11:00 at 100, ...: 10:20 → 100, 10:40 → 200, 11:10 → 100
    # as they are; half an hour later 200, 100, 200.
    assert greenest(WINDOWS, halves, START, (START, START), 1.0, 381.0) == Greenest(
        Start(0, 1.0 + 4.0 + 1.0, 0.0), H // 2, 1
    )
    assert greenest(WINDOWS, halves, START, (START + H // 2, START + H // 2), 1.0, 381.0) == (
        Greenest(Start(H // 2, 2.0 + 2.0 + 2.0, 0.0), H // 2, 1)
    )


def test_the_series_figure_is_the_latest_publication_then_the_latest_start():
    """A day's period published later wins over the hour inside it; of two published at the
    same time the one that starts last."""
    day = Period(T0, T0 + 24 * H, 10.0, T0 + H)
    hour = Period(T0 + 10 * H, T0 + 11 * H, 20.0, T0)
    assert Series([day, hour]).at(T0 + 10 * H) == 10.0
    assert Series([Period(T0, T0 + 24 * H, 10.0, T0), hour]).at(T0 + 10 * H) == 20.0
    assert Series([hour]).at(T0 + 11 * H) is None
    assert Series([hour]).at(T0 + 10 * H - 1) is None


START_AT = datetime(2026, 6, 10, 12, 27, 30, tzinfo=UTC)


def test_the_range_is_a_preset_around_the_start_or_whole_days():
    day = timedelta(days=1)
    assert params.greenest_range("before-7d", None, None, START_AT) == (
        START_AT - 7 * day, START_AT, []
    )  # fmt: skip
    assert params.greenest_range("around-24h", "2026-06-01", "2026-06-02", START_AT) == (
        datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 3, tzinfo=UTC) - MS, []
    )  # fmt: skip
    # One date alone is that day; a bad one is said, and the preset used.
    assert params.greenest_range("custom", None, "2026-06-02", START_AT) == (
        datetime(2026, 6, 2, tzinfo=UTC), datetime(2026, 6, 3, tzinfo=UTC) - MS, []
    )  # fmt: skip
    assert params.greenest_range("after-24h", "2026-13-01", None, START_AT) == (
        START_AT, START_AT + day,
        ["from: '2026-13-01' is not a date; use YYYY-MM-DD (UTC).",
         "to: '2026-13-01' is not a date; use YYYY-MM-DD (UTC)."],
    )  # fmt: skip
    # An unknown preset is the default; an object is a hand-made request, refused.
    assert params.greenest_range("48h", None, None, START_AT) == (
        START_AT - day, START_AT + day, []
    )  # fmt: skip
    with pytest.raises(checks.InvalidInput, match="greenest: expected text"):
        params.greenest_range({"$gt": ""}, None, None, START_AT)


def test_the_range_goes_into_the_address():
    assert params.greenest_search("after-7d", None, None) == "?greenest=after-7d"
    assert params.greenest_search("custom", "2026-06-01", "2026-06-02T00:00:00") == (
        "?greenest_from=2026-06-01&greenest_to=2026-06-02"
    )
    assert params.greenest_search(None, " ", None) == ""


def test_the_range_dropdown_is_wide_enough_for_its_longest_option():
    """ "24 hours either side of its start" (33 characters) is shown whole: 33 ``ch`` and the
    dropdown's own padding and caret, never wider than the row."""
    controls = run_page.greenest_controls({})
    dropdown = controls.children[1]
    assert dropdown.id == "run-greenest-range"
    assert max(len(o["label"]) for o in dropdown.options) == 33
    assert dropdown.style == {"width": "calc(33ch + 56px)", "maxWidth": "100%"}
    assert common.fitting_width(["a", "abc"]) == "calc(3ch + 56px)"
    assert common.fitting_width([]) == "calc(0ch + 56px)"
