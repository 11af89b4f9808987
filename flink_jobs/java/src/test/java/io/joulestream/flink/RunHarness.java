package io.joulestream.flink;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.state.KeyedStateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.streaming.api.operators.co.CoBroadcastWithKeyedOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedBroadcastOperatorTestHarness;
import org.apache.flink.types.Row;
import org.apache.flink.util.OutputTag;

/**
 * The run accounting in Flink's operator harness, processing time set by hand: the events, grid
 * periods and reads of the outputs that RunProcessorTest and GridPricingTest build their cases
 * from.
 */
final class RunHarness {

    static final long WINDOW_MS = 60_000;
    static final long DELAY_MS = 5_000;
    static final long LOST_AFTER_MS = 300_000;
    static final long FLUSH_MS = 1_000;
    static final long DAY_MS = 86_400_000;

    private final KeyedBroadcastOperatorTestHarness<String, Row, Row, Row> harness;
    private long nowMs;

    /** A harness with the job's defaults: dedup TTL and grid horizon a day, state TTL a week. */
    RunHarness() throws Exception {
        this(DAY_MS, 7 * DAY_MS, DAY_MS);
    }

    RunHarness(long dedupTtlMs, long stateTtlMs, long gridHorizonMs) throws Exception {
        RunAccounting.Settings settings = new RunAccounting.Settings(DELAY_MS, WINDOW_MS,
                LOST_AFTER_MS, dedupTtlMs, stateTtlMs, FLUSH_MS, 256, gridHorizonMs);
        harness = new KeyedBroadcastOperatorTestHarness<>(
                new CoBroadcastWithKeyedOperator<>(
                        new RunProcessor(settings), List.of(RunAccounting.GRID_STATE)),
                row -> (String) row.getField(RunAccounting.RUN_ID),
                Types.STRING, 128, 1, 0);
        // The runs' own type, as the job declares it (not a generic one).
        harness.setup(RunAccounting.RUNS.createSerializer(new SerializerConfigImpl()));
        harness.open();
        harness.setProcessingTime(0);
    }

    void close() throws Exception {
        harness.close();
    }

    static Row event(String type, String run, long seq, long tsMs, String region) {
        Row row = new Row(RunAccounting.INPUT.size());
        row.setField(RunAccounting.EVENT_ID, run + ":" + seq);
        row.setField(RunAccounting.EVENT_TYPE, type);
        row.setField(RunAccounting.RUN_ID, run);
        row.setField(RunAccounting.SEQ, seq);
        row.setField(RunAccounting.TS_MS, tsMs);
        row.setField(RunAccounting.USER_ID, "ada");
        row.setField(RunAccounting.MODEL, "m");
        row.setField(RunAccounting.REGION, region);
        return row;
    }

    /** A measurement of one second in FR. */
    static Row measurement(String run, long seq, long tsMs, double cpuJ, double gpuJ) {
        Row row = event("measurement", run, seq, tsMs, "FR");
        row.setField(RunAccounting.INTERVAL_START_MS, tsMs - 1_000);
        row.setField(RunAccounting.CPU_ENERGY_J, cpuJ);
        row.setField(RunAccounting.GPU_ENERGY_J, gpuJ);
        return row;
    }

    /** A grid period, a row of {@link RunAccounting#GRID_INPUT}. */
    static Row period(String zone, long startMs, long endMs, double intensity, String source,
            long publishedAtMs) {
        return Row.of(zone, startMs, endMs, intensity, source, publishedAtMs);
    }

    void send(Row event) throws Exception {
        harness.processElement(event, 0L);
    }

    void grid(Row period) throws Exception {
        harness.processBroadcastElement(period, 0L);
    }

    /** Moves processing time to {@code toMs}, firing the timers due. */
    void advance(long toMs) throws Exception {
        nowMs = toMs;
        harness.setProcessingTime(toMs);
    }

    /** Moves processing time on by one flush interval. */
    void flush() throws Exception {
        advance(nowMs + FLUSH_MS);
    }

    long nowMs() {
        return nowMs;
    }

    /** Forgets what was sent so far. */
    void clear() {
        harness.getOutput().clear();
        for (OutputTag<Row> tag : List.of(RunAccounting.WINDOWS_TAG, RunAccounting.EPOCHS_TAG,
                RunAccounting.LATE_TAG, RunAccounting.LATE_PARTS_TAG)) {
            ConcurrentLinkedQueue<StreamRecord<Row>> q = harness.getSideOutput(tag);
            if (q != null) {
                q.clear();
            }
        }
    }

    /** The run rows sent so far (the main output). */
    List<Row> runs() {
        return new ArrayList<>(harness.extractOutputValues());
    }

    List<Row> side(OutputTag<Row> tag) {
        ConcurrentLinkedQueue<StreamRecord<Row>> records = harness.getSideOutput(tag);
        List<Row> rows = new ArrayList<>();
        if (records != null) {
            records.forEach(r -> rows.add(r.getValue()));
        }
        return rows;
    }

    /** How many grid buckets the run keeps (grid-eligible energy no kept window holds). */
    int gridBuckets(String run) throws Exception {
        KeyedStateBackend<String> backend = harness.getOperator().getKeyedStateBackend();
        backend.setCurrentKey(run);
        MapState<Long, RunState.GridBucket> buckets = backend.getPartitionedState(
                VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE,
                new MapStateDescriptor<>(RunProcessor.GRID_BUCKETS, Types.LONG,
                        Types.POJO(RunState.GridBucket.class)));
        int n = 0;
        for (Long ignored : buckets.keys()) {
            n++;
        }
        return n;
    }

    static Object run(Row row, String name) {
        return row.getField(RunAccounting.RUNS.getFieldIndex(name));
    }

    static Object window(Row row, String name) {
        return row.getField(RunAccounting.WINDOWS.getFieldIndex(name));
    }

    static Object epoch(Row row, String name) {
        return row.getField(RunAccounting.EPOCHS.getFieldIndex(name));
    }

    static Object late(Row row, String name) {
        return row.getField(RunAccounting.LATE_PARTS.getFieldIndex(name));
    }

    static Row last(List<Row> rows) {
        return rows.get(rows.size() - 1);
    }
}
