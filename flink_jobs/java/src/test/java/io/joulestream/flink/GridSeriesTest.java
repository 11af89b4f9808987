package io.joulestream.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.joulestream.flink.GridSeries.GridPeriod;
import org.junit.jupiter.api.Test;

class GridSeriesTest {

    private static final long H = 3_600_000L;
    private static final long T0 = 1_790_000_000_000L / H * H;

    private static GridPeriod period(long startMs, long endMs, double intensity, long publishedMs) {
        return new GridPeriod(startMs, endMs, intensity, "test", publishedMs);
    }

    @Test
    void pricesTheHourThatContainsTheTime() {
        GridSeries series = new GridSeries();
        assertTrue(series.put(period(T0 + H, T0 + 2 * H, 200.0, T0)));
        assertTrue(series.put(period(T0, T0 + H, 100.0, T0)));
        assertTrue(series.put(period(T0 + 2 * H, T0 + 3 * H, 300.0, T0)));
        assertEquals(100.0, series.at(T0).intensityGPerKwh);
        assertEquals(100.0, series.at(T0 + H - 1).intensityGPerKwh);
        assertEquals(200.0, series.at(T0 + H).intensityGPerKwh);
        assertEquals(300.0, series.at(T0 + 3 * H - 1).intensityGPerKwh);
        assertNull(series.at(T0 + 3 * H));
        assertNull(series.at(T0 - 1));
    }

    @Test
    void aLaterPublicationRevisesAnEarlierOneIsIgnoredAReplayChangesNothing() {
        GridSeries series = new GridSeries();
        series.put(period(T0, T0 + H, 100.0, T0 + 10));
        assertFalse(series.put(period(T0, T0 + H, 150.0, T0 + 5)), "older publication");
        assertEquals(100.0, series.at(T0).intensityGPerKwh);
        assertFalse(series.put(period(T0, T0 + H, 100.0, T0 + 10)), "replay");
        assertTrue(series.put(period(T0, T0 + H, 120.0, T0 + 20)), "revision");
        assertEquals(120.0, series.at(T0 + 1).intensityGPerKwh);
        assertEquals(1, series.periods.length);
    }

    @Test
    void aGapIsNotPricedAndOverlapsTakeTheLatestPublication() {
        GridSeries series = new GridSeries();
        series.put(period(T0, T0 + H / 2, 100.0, T0));
        assertNull(series.at(T0 + H / 2), "after the half hour: a gap");
        // An hourly figure published later covers the gap and the first half hour.
        series.put(period(T0, T0 + H, 180.0, T0 + 1));
        assertEquals(180.0, series.at(T0 + H / 2).intensityGPerKwh);
        // A finer figure published at the same time as a longer one wins inside it.
        series.put(period(T0 + H / 2, T0 + H, 90.0, T0 + 1));
        assertEquals(90.0, series.at(T0 + H / 2).intensityGPerKwh);
        assertEquals(180.0, series.at(T0).intensityGPerKwh);
    }

    @Test
    void aDayLongPeriodIsFoundBehindManyShortOnes() {
        GridSeries series = new GridSeries();
        series.put(period(T0, T0 + 24 * H, 400.0, T0));
        for (long m = 0; m < 20; m++) {
            series.put(period(T0 + 2 * H + m * 300_000, T0 + 2 * H + (m + 1) * 300_000, 1.0, 0));
        }
        assertEquals(400.0, series.at(T0 + 23 * H).intensityGPerKwh);
        assertEquals(400.0, series.at(T0 + 2 * H).intensityGPerKwh, "the later publication");
    }

    @Test
    void expiryKeepsPeriodsThatEndAfterTheCut() {
        GridSeries series = new GridSeries();
        series.put(period(T0, T0 + 24 * H, 400.0, T0));
        series.put(period(T0 + H, T0 + 2 * H, 100.0, T0));
        series.put(period(T0 + 3 * H, T0 + 4 * H, 100.0, T0));
        assertEquals(1, series.expire(T0 + 2 * H));
        assertEquals(2, series.periods.length);
        assertEquals(T0, series.periods[0].startMs);
        assertEquals(T0 + 3 * H, series.periods[1].startMs);
    }
}
