package io.joulestream.flink;

import static io.joulestream.flink.RunHarness.FLUSH_MS;
import static io.joulestream.flink.RunHarness.LOST_AFTER_MS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.Collectors;
import org.apache.flink.types.Row;
import org.apache.flink.types.RowKind;
import org.apache.flink.util.OutputTag;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The run accounting in Flink's operator harness: processing time and timers by hand. */
class RunProcessorTest {

    private static final long T0 = 1_790_000_000_000L;
    private static final long DELAY_MS = RunHarness.DELAY_MS;

    private RunHarness harness;

    @BeforeEach
    void open() throws Exception {
        harness = new RunHarness();
    }

    @AfterEach
    void close() throws Exception {
        harness.close();
    }

    private static Row event(String type, String run, long seq, long tsMs) {
        return RunHarness.event(type, run, seq, tsMs, "FR");
    }

    /** A measurement of one second in epoch 0, with 0.5 J of GPU energy. */
    private static Row measurement(String run, long seq, long tsMs, double cpuJ) {
        Row row = RunHarness.measurement(run, seq, tsMs, cpuJ, 0.5);
        row.setField(RunAccounting.EPOCH, 0L);
        return row;
    }

    private void send(Row row) throws Exception {
        harness.send(row);
    }

    private void advance(long toMs) throws Exception {
        harness.advance(toMs);
    }

    private List<Row> runs() {
        return harness.runs();
    }

    private List<Row> side(OutputTag<Row> tag) {
        return harness.side(tag);
    }

    private static Object field(Row row, String name) {
        return RunHarness.run(row, name);
    }

    @Test
    void copiesAreDroppedAndTheRunIsSentOncePerFlush() throws Exception {
        send(measurement("r", 1, T0 + 1_000, 2.0));
        send(measurement("r", 2, T0 + 2_000, 3.0));
        send(measurement("r", 1, T0 + 1_000, 2.0));
        assertEquals(0, runs().size());
        advance(FLUSH_MS);
        List<Row> runs = runs();
        assertEquals(1, runs.size());
        Row run = runs.get(0);
        assertEquals(2L, field(run, "events"));
        assertEquals(2L, field(run, "version"));
        assertEquals(5.0, field(run, "cpu_energy_j"));
        assertEquals(6.0, field(run, "energy_j"));
        assertEquals("running", field(run, "status"));
        assertEquals(T0 + 2_000 - DELAY_MS, field(run, "watermark_ms"));
        // One window row, sent once for both events.
        List<Row> windows = side(RunAccounting.WINDOWS_TAG);
        assertEquals(1, windows.size());
        assertEquals(RowKind.INSERT, windows.get(0).getKind());
        assertEquals(2L, windows.get(0).getField(RunAccounting.WINDOWS.getFieldIndex("events")));
    }

    private static Object epochField(Row row, String name) {
        return RunHarness.epoch(row, name);
    }

    @Test
    void anEpochIsSentAgainPricedWhenItsRunStartedArrives() throws Exception {
        Row own = measurement("r", 1, T0 + 1_000, 2.0);
        own.setField(RunAccounting.INTERVAL_INTENSITY, 100.0);
        send(own);
        send(measurement("r", 2, T0 + 2_000, 3.0));
        advance(FLUSH_MS);
        List<Row> epochs = side(RunAccounting.EPOCHS_TAG);
        assertEquals(1, epochs.size());
        Row unpriced = epochs.get(0);
        assertEquals(0, epochField(unpriced, "priced"));
        assertEquals(6.0, epochField(unpriced, "energy_j"));
        // The interval with its own intensity, apart: 2.5 J, times 100 g/kWh.
        assertEquals(2.5, epochField(unpriced, "energy_j_interval"));
        assertEquals(250.0, epochField(unpriced, "energy_j_x_interval_intensity"));
        assertEquals("FR", epochField(unpriced, "region"));

        Row started = event("run_started", "r", 0, T0);
        started.setField(RunAccounting.EVENT_PUE, 1.5);
        send(started);
        advance(2 * FLUSH_MS);
        epochs = side(RunAccounting.EPOCHS_TAG);
        assertEquals(2, epochs.size());
        Row priced = epochs.get(1);
        assertEquals(1, epochField(priced, "priced"));
        assertEquals(1.5, epochField(priced, "event_pue"));
        assertEquals(2L, epochField(priced, "events"));
        assertEquals(6.0, epochField(priced, "energy_j"));
    }

    @Test
    void lateIsJudgedAgainstTheRunsOwnProgressOnly() throws Exception {
        send(measurement("ahead", 1, T0 + 7_200_000, 1.0));
        send(measurement("r", 1, T0 + 10_000, 1.0));
        send(measurement("r", 2, T0 + 20_000, 1.0));
        send(measurement("r", 3, T0 + 15_001, 1.0));
        send(measurement("r", 4, T0 + 14_000, 1.0));
        List<Row> late = side(RunAccounting.LATE_TAG);
        assertEquals(1, late.size());
        Row row = late.get(0);
        assertEquals("r:4", row.getField(0));
        assertEquals(RunProcessor.BEHIND, row.getField(RunAccounting.LATE.getFieldIndex("reason")));
        assertEquals(T0 + 15_000L, row.getField(RunAccounting.LATE.getFieldIndex("watermark_ms")));
    }

    @Test
    void aMeasurementAfterRunFinishedIsLate() throws Exception {
        send(event("run_started", "r", 0, T0));
        send(measurement("r", 1, T0 + 1_000, 1.0));
        Row finished = event("run_finished", "r", 2, T0 + 2_000);
        finished.setField(RunAccounting.FINISHED_STATUS, "completed");
        send(finished);
        send(measurement("r", 3, T0 + 1_500, 1.0));
        assertEquals(RunProcessor.AFTER_FINISHED,
                side(RunAccounting.LATE_TAG).get(0).getField(RunAccounting.LATE.getFieldIndex("reason")));
        advance(FLUSH_MS);
        Row run = runs().get(0);
        assertEquals("completed", field(run, "status"));
        assertEquals(2L, field(run, "events"));
        assertEquals(1, side(RunAccounting.WINDOWS_TAG).size());
    }

    @Test
    void aSilentRunIsLostAndRunningAgainWhenItSends() throws Exception {
        send(measurement("r", 1, T0 + 1_000, 1.0));
        advance(FLUSH_MS);
        advance(LOST_AFTER_MS);
        List<Row> runs = runs();
        assertEquals("lost", field(runs.get(runs.size() - 1), "status"));
        assertEquals(2L, field(runs.get(runs.size() - 1), "version"));
        send(measurement("r", 2, T0 + 2_000, 1.0));
        advance(LOST_AFTER_MS + FLUSH_MS);
        runs = runs();
        assertEquals("running", field(runs.get(runs.size() - 1), "status"));
        assertEquals(3L, field(runs.get(runs.size() - 1), "version"));
    }

    @Test
    void aLateRunStartedPricesTheWindowsAndLatePartsSentBeforeIt() throws Exception {
        send(measurement("r", 1, T0 + 20_000, 1.0));
        send(measurement("r", 2, T0 + 1_000, 1.0));
        advance(FLUSH_MS);
        Row started = event("run_started", "r", 0, T0);
        started.setField(RunAccounting.EVENT_INTENSITY, 100.0);
        send(started);
        advance(2 * FLUSH_MS);
        List<Row> windows = side(RunAccounting.WINDOWS_TAG);
        int priced = RunAccounting.WINDOWS.getFieldIndex("priced");
        assertEquals(List.of(RowKind.INSERT, RowKind.UPDATE_BEFORE, RowKind.UPDATE_AFTER),
                windows.stream().map(Row::getKind).collect(Collectors.toList()));
        assertEquals(0, windows.get(1).getField(priced));
        assertEquals(1, windows.get(2).getField(priced));
        assertEquals(100.0, windows.get(2).getField(RunAccounting.WINDOWS.getFieldIndex("event_intensity")));
        List<Row> parts = side(RunAccounting.LATE_PARTS_TAG);
        assertEquals(List.of(RowKind.INSERT, RowKind.UPDATE_BEFORE, RowKind.UPDATE_AFTER),
                parts.stream().map(Row::getKind).collect(Collectors.toList()));
        assertTrue(parts.get(2).getField(RunAccounting.LATE_PARTS.getFieldIndex("event_intensity")) != null);
    }

    @Test
    void intervalsWithTheirOwnIntensityAreKeptApart() throws Exception {
        Row own = measurement("r", 1, T0 + 1_000, 2.0);
        own.setField(RunAccounting.INTERVAL_INTENSITY, 200.0);
        send(own);
        send(measurement("r", 2, T0 + 2_000, 4.0));
        advance(FLUSH_MS);
        Row run = runs().get(0);
        assertEquals(2.5, field(run, "energy_j_interval"));
        assertEquals(500.0, field(run, "energy_j_x_interval_intensity"));
        assertEquals(400.0, field(run, "cpu_energy_j_x_interval_intensity"));
        assertEquals(7.0, field(run, "energy_j"));
    }

    private static Row gpu(int index, double energyJ, Double utilisation) {
        return Row.of(index, energyJ, "nvml", utilisation);
    }

    @Test
    void thePlanFromRunStartedIsInTheRunsDocument() throws Exception {
        send(measurement("r", 1, T0 + 1_000, 1.0));
        advance(FLUSH_MS);
        assertEquals(null, field(runs().get(0), "planned_steps"));
        Row started = event("run_started", "r", 0, T0);
        started.setField(RunAccounting.PLANNED_STEPS, 1_000L);
        started.setField(RunAccounting.PLANNED_EPOCHS, 10L);
        send(started);
        advance(2 * FLUSH_MS);
        List<Row> runs = runs();
        Row run = runs.get(runs.size() - 1);
        assertEquals(1_000L, field(run, "planned_steps"));
        assertEquals(10L, field(run, "planned_epochs"));
    }

    @Test
    void eachGpusEnergyAndTimeWeightedUtilisationAreSummedByIndex() throws Exception {
        // 1 s at 50 % and 3 s at 100 % on GPU 1: 87.5 %; GPU 0 never says its utilisation.
        Row first = measurement("r", 1, T0 + 1_000, 1.0);
        first.setField(RunAccounting.GPUS, new Row[] {gpu(1, 2.0, 0.5), gpu(0, 1.0, null)});
        send(first);
        Row second = measurement("r", 2, T0 + 4_000, 1.0);
        second.setField(RunAccounting.INTERVAL_START_MS, T0 + 1_000);
        second.setField(RunAccounting.GPUS, new Row[] {gpu(0, 4.0, null), gpu(1, 6.0, 1.0)});
        send(second);
        advance(FLUSH_MS);
        Object[] gpus = (Object[]) field(runs().get(0), "gpus");
        assertEquals(2, gpus.length);
        assertEquals(Row.of(0L, 5.0, null), gpus[0]);
        assertEquals(Row.of(1L, 8.0, 0.875), gpus[1]);
    }

    @Test
    void aRunWithoutGpusHasAnEmptyList() throws Exception {
        send(measurement("r", 1, T0 + 1_000, 1.0));
        advance(FLUSH_MS);
        assertEquals(0, ((Object[]) field(runs().get(0), "gpus")).length);
    }

    @Test
    void perGpuFiguresOutsideTheContractAreDeadLetters() {
        Row ok = measurement("r", 1, T0 + 1_000, 1.0);
        ok.setField(RunAccounting.GPUS, new Row[] {gpu(0, 5000.0, 1.0)});
        assertEquals(null, RunAccounting.Split.gpusReason(ok));
        Row tooMuch = measurement("r", 1, T0 + 1_000, 1.0);
        tooMuch.setField(RunAccounting.GPUS, new Row[] {gpu(3, 5000.5, null)});
        assertEquals("measurement.gpus[3].energy_j = 5000.5 J is not finite or not within 0 and "
                + "5000.0 W over the interval", RunAccounting.Split.gpusReason(tooMuch));
        Row nan = measurement("r", 1, T0 + 1_000, 1.0);
        nan.setField(RunAccounting.GPUS, new Row[] {gpu(0, Double.NaN, null)});
        assertTrue(RunAccounting.Split.gpusReason(nan).startsWith("measurement.gpus[0].energy_j = NaN"));
        Row busy = measurement("r", 1, T0 + 1_000, 1.0);
        busy.setField(RunAccounting.GPUS, new Row[] {gpu(0, 1.0, 1.5)});
        assertEquals("measurement.gpus[0].utilisation = 1.5 is not within [0, 1]",
                RunAccounting.Split.gpusReason(busy));
        Row index = measurement("r", 1, T0 + 1_000, 1.0);
        index.setField(RunAccounting.GPUS, new Row[] {gpu(256, 1.0, null)});
        assertEquals("measurement.gpus[].index = 256 is not in [0, 256)",
                RunAccounting.Split.gpusReason(index));
    }
}
