package io.joulestream.flink;

import static io.joulestream.flink.RunHarness.event;
import static io.joulestream.flink.RunHarness.last;
import static io.joulestream.flink.RunHarness.late;
import static io.joulestream.flink.RunHarness.measurement;
import static io.joulestream.flink.RunHarness.period;
import static io.joulestream.flink.RunHarness.run;
import static io.joulestream.flink.RunHarness.window;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.List;
import java.util.stream.Collectors;
import org.apache.flink.types.Row;
import org.apache.flink.types.RowKind;
import org.apache.flink.util.OutputTag;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Grid pricing in the run accounting: the broadcast series prices windows, late parts and
 * runs, and a revised figure prices them again. */
class GridPricingTest {

    /** A whole hour (and so a whole minute) in UTC. */
    private static final long H0 = 1_790_002_800_000L;
    private static final long HOUR_MS = 3_600_000;
    private static final long WINDOW_MS = RunHarness.WINDOW_MS;

    private RunHarness harness;

    @BeforeEach
    void open() throws Exception {
        harness = new RunHarness();
    }

    @AfterEach
    void close() throws Exception {
        harness.close();
    }

    private void send(Row row) throws Exception {
        harness.send(row);
    }

    private void grid(Row row) throws Exception {
        harness.grid(row);
    }

    private void flush() throws Exception {
        harness.flush();
    }

    private void clear() {
        harness.clear();
    }

    private List<Row> runs() {
        return harness.runs();
    }

    private List<Row> side(OutputTag<Row> tag) {
        return harness.side(tag);
    }

    @Test
    void aWindowIsPricedByThePeriodOfItsStart() throws Exception {
        grid(period("FR", H0, H0 + HOUR_MS, 50.0, "simulated", H0));
        grid(period("FR", H0 + HOUR_MS, H0 + 2 * HOUR_MS, 90.0, "simulated", H0));
        send(event("run_started", "r", 0, H0 + HOUR_MS - 61_000, "FR"));
        // One window ends in the first hour, the next starts in the second.
        send(measurement("r", 1, H0 + HOUR_MS - 30_000, 2.0, 6.0));
        send(measurement("r", 2, H0 + HOUR_MS + 30_000, 1.0, 3.0));
        flush();
        List<Row> windows = side(RunAccounting.WINDOWS_TAG);
        assertEquals(2, windows.size());
        Row first = windows.get(0);
        Row second = windows.get(1);
        assertEquals(H0 + HOUR_MS - WINDOW_MS, window(first, "window_start_ms"));
        assertEquals(8.0, window(first, "energy_j_grid"));
        assertEquals(2.0 * 50.0, window(first, "cpu_energy_j_x_grid_intensity"));
        assertEquals(8.0 * 50.0, window(first, "energy_j_x_grid_intensity"));
        assertEquals(50.0, window(first, "grid_intensity_g_per_kwh"));
        assertEquals("simulated", window(first, "grid_source"));
        assertEquals(4.0 * 90.0, window(second, "energy_j_x_grid_intensity"));
        Row run = last(runs());
        assertEquals(12.0, run(run, "energy_j_grid"));
        assertEquals(8.0 * 50.0 + 4.0 * 90.0, run(run, "energy_j_x_grid_intensity"));
        assertArrayEquals(new String[] {"simulated"}, (Object[]) run(run, "grid_sources"));
    }

    @Test
    void aRevisedFigurePricesSentWindowsRunsAndLatePartsAgain() throws Exception {
        grid(period("FR", H0, H0 + HOUR_MS, 50.0, "forecast", H0));
        send(event("run_started", "r", 0, H0, "FR"));
        send(measurement("r", 1, H0 + 10_000, 2.0, 0.0));
        // Closes the first window, and a late measurement in it.
        send(measurement("r", 2, H0 + 130_000, 1.0, 0.0));
        send(measurement("r", 3, H0 + 20_000, 4.0, 0.0));
        flush();
        long versionBefore = (Long) run(last(runs()), "version");
        clear();
        grid(period("FR", H0, H0 + HOUR_MS, 70.0, "measured", H0 + HOUR_MS));
        // -U and +U of both windows, the closed one included.
        assertEquals(4, side(RunAccounting.WINDOWS_TAG).size());
        List<Row> windows = side(RunAccounting.WINDOWS_TAG).stream()
                .filter(w -> window(w, "window_start_ms").equals(H0))
                .collect(Collectors.toList());
        assertEquals(RowKind.UPDATE_BEFORE, windows.get(0).getKind());
        assertEquals(100.0, window(windows.get(0), "energy_j_x_grid_intensity"));
        assertEquals(RowKind.UPDATE_AFTER, windows.get(1).getKind());
        assertEquals(140.0, window(windows.get(1), "energy_j_x_grid_intensity"));
        assertEquals("measured", window(windows.get(1), "grid_source"));
        assertEquals(1, window(windows.get(1), "repriced"));
        List<Row> parts = side(RunAccounting.LATE_PARTS_TAG);
        assertEquals(2, parts.size());
        assertEquals(200.0, late(parts.get(0), "energy_j_x_grid_intensity"));
        assertEquals(280.0, late(parts.get(1), "energy_j_x_grid_intensity"));
        assertEquals(1, late(parts.get(1), "repriced"));
        Row run = last(runs());
        assertEquals(versionBefore + 1, run(run, "version"));
        assertEquals(7.0 * 70.0, run(run, "energy_j_x_grid_intensity"));
        assertArrayEquals(new String[] {"forecast", "measured"}, (Object[]) run(run, "grid_sources"));
        // An older publication, and the same figure again, change nothing.
        clear();
        grid(period("FR", H0, H0 + HOUR_MS, 10.0, "forecast", H0));
        grid(period("FR", H0, H0 + HOUR_MS, 70.0, "measured", H0 + HOUR_MS));
        assertEquals(0, side(RunAccounting.WINDOWS_TAG).size());
        assertEquals(0, runs().size());
    }

    @Test
    void theRunsOwnIntensityAndTheIntervalsOwnWinOverTheGrid() throws Exception {
        grid(period("FR", H0, H0 + HOUR_MS, 50.0, "simulated", H0));
        Row started = event("run_started", "own", 0, H0, "FR");
        started.setField(RunAccounting.EVENT_INTENSITY, 300.0);
        send(started);
        send(measurement("own", 1, H0 + 1_000, 2.0, 0.0));
        send(event("run_started", "r", 0, H0, "FR"));
        Row interval = measurement("r", 1, H0 + 1_000, 2.0, 0.0);
        interval.setField(RunAccounting.INTERVAL_INTENSITY, 20.0);
        send(interval);
        send(measurement("r", 2, H0 + 2_000, 3.0, 0.0));
        flush();
        for (Row w : side(RunAccounting.WINDOWS_TAG)) {
            if ("own".equals(w.getField(0))) {
                assertEquals(0.0, window(w, "energy_j_grid"));
                assertNull(window(w, "grid_source"));
            } else {
                assertEquals(3.0, window(w, "energy_j_grid"));
                assertEquals(150.0, window(w, "energy_j_x_grid_intensity"));
                assertEquals(2.0, window(w, "energy_j_interval"));
            }
        }
        // A revision prices the run without its own intensity again, not the other.
        clear();
        grid(period("FR", H0, H0 + HOUR_MS, 70.0, "simulated", H0 + HOUR_MS));
        List<Row> runs = runs();
        assertEquals(1, runs.size());
        assertEquals("r", runs.get(0).getField(0));
        assertEquals(3.0 * 70.0, run(runs.get(0), "energy_j_x_grid_intensity"));
        for (Row w : side(RunAccounting.WINDOWS_TAG)) {
            assertEquals("r", w.getField(0));
        }
    }

    @Test
    void aZoneWithoutSeriesIsNotGridPriced() throws Exception {
        grid(period("DE", H0, H0 + HOUR_MS, 50.0, "simulated", H0));
        send(event("run_started", "r", 0, H0, "FR"));
        send(measurement("r", 1, H0 + 1_000, 2.0, 0.0));
        flush();
        Row w = side(RunAccounting.WINDOWS_TAG).get(0);
        assertEquals(0.0, window(w, "energy_j_grid"));
        assertNull(window(w, "grid_intensity_g_per_kwh"));
        clear();
        // DE's figure prices no run of FR again.
        grid(period("DE", H0, H0 + HOUR_MS, 60.0, "simulated", H0 + 1));
        assertEquals(0, side(RunAccounting.WINDOWS_TAG).size());
        assertEquals(0, runs().size());
        // The zone's first figure arrives late: the sent window is priced with it.
        grid(period("FR", H0, H0 + HOUR_MS, 40.0, "simulated", H0));
        List<Row> windows = side(RunAccounting.WINDOWS_TAG);
        assertEquals(2, windows.size());
        assertEquals(80.0, window(windows.get(1), "energy_j_x_grid_intensity"));
        assertEquals(80.0, run(last(runs()), "energy_j_x_grid_intensity"));
    }

    @Test
    void pastTheHorizonAFigureChangesNothingStored() throws Exception {
        // A two-minute horizon, and a sweep every 10 s (the dedup TTL).
        harness.close();
        harness = new RunHarness(10_000, 7 * RunHarness.DAY_MS, 120_000);
        grid(period("FR", H0, H0 + HOUR_MS, 50.0, "simulated", H0));
        send(event("run_started", "r", 0, H0, "FR"));
        send(measurement("r", 1, H0 + 1_000, 2.0, 0.0));
        // The run moves on five minutes: its first window is past the horizon.
        send(measurement("r", 2, H0 + 301_000, 1.0, 0.0));
        harness.advance(10_000);
        Row before = last(runs());
        assertEquals(3.0 * 50.0, run(before, "energy_j_x_grid_intensity"));
        clear();
        grid(period("FR", H0, H0 + HOUR_MS, 70.0, "revised", H0 + HOUR_MS));
        // Only the window within the horizon is priced again; the run keeps the first
        // window's old price in its total.
        List<Row> windows = side(RunAccounting.WINDOWS_TAG);
        assertEquals(2, windows.size());
        assertEquals(H0 + 300_000, window(windows.get(1), "window_start_ms"));
        Row after = last(runs());
        assertEquals((Long) run(before, "version") + 1, run(after, "version"));
        assertEquals(2.0 * 50.0 + 1.0 * 70.0, run(after, "energy_j_x_grid_intensity"));
    }

    @Test
    void onTimeEnergyIsHeldByItsWindowAndLateEnergyByAGridBucket() throws Exception {
        grid(period("FR", H0, H0 + HOUR_MS, 50.0, "simulated", H0));
        send(event("run_started", "r", 0, H0, "FR"));
        send(measurement("r", 1, H0 + 10_000, 2.0, 0.0));
        send(measurement("r", 2, H0 + 130_000, 1.0, 0.0));
        assertEquals(0, harness.gridBuckets("r"));
        // Late: its window has closed.
        send(measurement("r", 3, H0 + 20_000, 4.0, 0.0));
        assertEquals(1, harness.gridBuckets("r"));
        flush();
        assertEquals(7.0 * 50.0, run(last(runs()), "energy_j_x_grid_intensity"));
        // Both are priced again: the closed window's on-time energy and the late bucket.
        grid(period("FR", H0, H0 + HOUR_MS, 70.0, "revised", H0 + HOUR_MS));
        assertEquals(7.0 * 70.0, run(last(runs()), "energy_j_x_grid_intensity"));
    }

    @Test
    void aWindowDroppedByTheStateTtlIsStillPricedAgainWithinTheHorizon() throws Exception {
        // State TTL 20 s, a sweep every 10 s (the dedup TTL), a horizon of a day.
        harness.close();
        harness = new RunHarness(10_000, 20_000, RunHarness.DAY_MS);
        grid(period("FR", H0, H0 + HOUR_MS, 50.0, "simulated", H0));
        send(event("run_started", "r", 0, H0, "FR"));
        send(measurement("r", 1, H0 + 1_000, 2.0, 0.0));
        for (long t = 10_000; t <= 30_000; t += 10_000) {
            harness.advance(t);
        }
        // The open window is gone; its grid energy is in a bucket.
        assertEquals(1, harness.gridBuckets("r"));
        assertEquals(2.0 * 50.0, run(last(runs()), "energy_j_x_grid_intensity"));
        clear();
        grid(period("FR", H0, H0 + HOUR_MS, 70.0, "revised", H0 + HOUR_MS));
        assertEquals(0, side(RunAccounting.WINDOWS_TAG).size());
        assertEquals(2.0 * 70.0, run(last(runs()), "energy_j_x_grid_intensity"));
    }

    @Test
    void anOpenWindowFoldedPastTheHorizonKeepsItsPriceAndWhatFollowsIsPricedApart() throws Exception {
        // A two-minute horizon, a sweep every 10 s: a silence of two minutes folds it all.
        harness.close();
        harness = new RunHarness(10_000, 7 * RunHarness.DAY_MS, 120_000);
        grid(period("FR", H0, H0 + HOUR_MS, 50.0, "simulated", H0));
        send(event("run_started", "r", 0, H0, "FR"));
        send(measurement("r", 1, H0 + 1_000, 2.0, 0.0));
        for (long t = 10_000; t <= 130_000; t += 10_000) {
            harness.advance(t);
        }
        clear();
        grid(period("FR", H0, H0 + HOUR_MS, 70.0, "revised", H0 + HOUR_MS));
        // The window's document is priced again; the run's total keeps 50 g/kWh for it.
        assertEquals(2, side(RunAccounting.WINDOWS_TAG).size());
        assertEquals(2.0 * 50.0, run(last(runs()), "energy_j_x_grid_intensity"));
        // On time, into the folded window: a bucket of its own, priced now.
        send(measurement("r", 2, H0 + 2_000, 1.0, 0.0));
        assertEquals(1, harness.gridBuckets("r"));
        harness.flush();
        assertEquals(2.0 * 50.0 + 1.0 * 70.0, run(last(runs()), "energy_j_x_grid_intensity"));
        grid(period("FR", H0, H0 + HOUR_MS, 90.0, "revised", H0 + 2 * HOUR_MS));
        assertEquals(2.0 * 50.0 + 1.0 * 90.0, run(last(runs()), "energy_j_x_grid_intensity"));
        // The window's document is priced as a whole, by the period of its start.
        assertEquals(3.0 * 90.0, window(last(side(RunAccounting.WINDOWS_TAG)), "energy_j_x_grid_intensity"));
    }
}
