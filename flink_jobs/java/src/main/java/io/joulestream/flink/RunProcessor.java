package io.joulestream.flink;

import io.joulestream.flink.GridSeries.GridPeriod;
import io.joulestream.flink.RunState.Epoch;
import io.joulestream.flink.RunState.GridBucket;
import io.joulestream.flink.RunState.IntervalPriced;
import io.joulestream.flink.RunState.LatePart;
import io.joulestream.flink.RunState.PricedTotals;
import io.joulestream.flink.RunState.Run;
import io.joulestream.flink.RunState.Totals;
import io.joulestream.flink.RunState.Window;
import io.joulestream.flink.RunState.WindowValues;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.flink.api.common.state.BroadcastState;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ReadOnlyBroadcastState;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.functions.co.KeyedBroadcastProcessFunction;
import org.apache.flink.types.Row;
import org.apache.flink.types.RowKind;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

/**
 * Everything the job knows of one run, keyed by run id, in the order its events reached Kafka:
 * de-duplication, the run's own event time, its totals, windows, epochs and late events, and
 * its silence. One exchange brings a run's events here; each output is sent at most once per
 * flush interval per run, however many events changed it.
 *
 * <p>Event time is the run's own: its progress is the highest {@code ts_ms} it has sent, and a
 * measurement is late when it is at or behind that less the bound, or arrives after the run's
 * {@code run_finished}. No other run's clock, delay or outage reaches this state.
 *
 * <p>Main output: the run's totals (see {@link RunAccounting#RUNS}); side outputs: windows (a
 * changelog: an update retracts what was sent before, for the rollups), epochs, late events
 * and the late events' parts of the rollups (also a changelog, re-sent priced when the run's
 * {@code run_started} arrives after them).
 *
 * <p>Grid pricing: the second input is the {@code grid.intensity} series, broadcast to every
 * instance ({@link RunAccounting#GRID_STATE}: zone → {@link GridSeries}). A window, a late part
 * and a run's total are priced when they are sent, from the series of the run's region at the
 * start of the window (of the late measurement's window). Within the re-pricing horizon a run
 * keeps its windows (closed ones too), late parts and its late grid energy per window start, so
 * that a figure that arrives later or is revised prices them again: each is sent again (a
 * changelog) and the run's document with a new version. A window holds its on-time energy and
 * the period that prices it in the run's total, so an on-time measurement touches no state
 * beyond its window.
 */
public final class RunProcessor extends KeyedBroadcastProcessFunction<String, Row, Row, Row> {

    private static final long serialVersionUID = 1L;
    static final String BEHIND = "behind its run's watermark";
    static final String AFTER_FINISHED = "after its run_finished";
    /** The name of the grid buckets' state (tests read it). */
    static final String GRID_BUCKETS = "grid-buckets";

    private final RunAccounting.Settings settings;
    private final ValueStateDescriptor<Run> runDescriptor =
            new ValueStateDescriptor<>("run", Run.class);

    private transient ValueState<Run> runState;
    /** The run's event ids, each with when it was first seen (processing time, ms). */
    private transient MapState<String, Long> seen;
    private transient MapState<Long, Window> windows;
    private transient MapState<Long, Epoch> epochs;
    /** The late parts sent within the re-pricing horizon, as sent. */
    private transient ListState<LatePart> lateParts;
    /** Closed windows within the re-pricing horizon, kept as sent for a new grid figure. */
    private transient MapState<Long, Window> closedWindows;
    /** Per window start: the grid-eligible energy that no kept window holds (late measurements,
     * and windows dropped by the state TTL or folded past the horizon). */
    private transient MapState<Long, GridBucket> gridBuckets;

    RunProcessor(RunAccounting.Settings settings) {
        this.settings = settings;
    }

    @Override
    public void open(Configuration parameters) {
        // No state TTL: on the heap backend its incremental cleanup walks whole maps (every id
        // a run has sent) on each access, which cost the job most of its throughput. A sweep
        // timer per run expires what must expire instead (onTimer).
        runState = getRuntimeContext().getState(runDescriptor);
        seen = getRuntimeContext().getMapState(
                new MapStateDescriptor<>("seen-event-ids", Types.STRING, Types.LONG));
        windows = getRuntimeContext().getMapState(
                new MapStateDescriptor<>("windows", Types.LONG, Types.POJO(Window.class)));
        epochs = getRuntimeContext().getMapState(
                new MapStateDescriptor<>("epochs", Types.LONG, Types.POJO(Epoch.class)));
        lateParts = getRuntimeContext().getListState(
                new ListStateDescriptor<>("late-parts", Types.POJO(LatePart.class)));
        closedWindows = getRuntimeContext().getMapState(
                new MapStateDescriptor<>("closed-windows", Types.LONG, Types.POJO(Window.class)));
        gridBuckets = getRuntimeContext().getMapState(
                new MapStateDescriptor<>(GRID_BUCKETS, Types.LONG, Types.POJO(GridBucket.class)));
    }

    @Override
    public void processElement(Row event, ReadOnlyContext ctx, Collector<Row> out) throws Exception {
        long nowMs = ctx.timerService().currentProcessingTime();
        Run run = runState.value();
        if (run == null) {
            run = new Run();
        }
        String type = (String) event.getField(RunAccounting.EVENT_TYPE);
        long tsMs = (Long) event.getField(RunAccounting.TS_MS);
        // Progress and the end of the run count every valid event, copies too (a copy carries
        // its original's time), so the order of copies never changes what is late.
        run.progressMs = Math.max(run.progressMs, tsMs);
        if ("run_finished".equals(type)) {
            run.finished = true;
        }
        String eventId = (String) event.getField(RunAccounting.EVENT_ID);
        if (seen.contains(eventId)) {
            runState.update(run);
            return;
        }
        seen.put(eventId, nowMs);
        run.version++;
        run.heardMs = nowMs;
        run.dirty = true;
        run.userId = latest(run.userId, event, RunAccounting.USER_ID);
        run.project = latest(run.project, event, RunAccounting.PROJECT);
        run.model = latest(run.model, event, RunAccounting.MODEL);
        run.region = latest(run.region, event, RunAccounting.REGION);
        run.dataset = latest(run.dataset, event, RunAccounting.DATASET);
        run.framework = latest(run.framework, event, RunAccounting.FRAMEWORK);
        run.lastSeq = Math.max(run.lastSeq, (Long) event.getField(RunAccounting.SEQ));
        if ("run_started".equals(type)) {
            started(run, event, ctx);
        } else if ("run_finished".equals(type)) {
            run.finishedStatus = latest(run.finishedStatus, event, RunAccounting.FINISHED_STATUS);
            run.finishedMs = run.finishedMs == null ? tsMs : Math.max(run.finishedMs, tsMs);
        } else if ("measurement".equals(type)) {
            measured(run, event, tsMs, ctx);
        }
        if (run.flushTimerMs == 0) {
            run.flushTimerMs = nowMs + settings.flushMs;
            ctx.timerService().registerProcessingTimeTimer(run.flushTimerMs);
        }
        if (run.sweepTimerMs == 0) {
            run.sweepTimerMs = nowMs + sweepEveryMs();
            ctx.timerService().registerProcessingTimeTimer(run.sweepTimerMs);
        }
        if (!run.finished && run.silenceTimerMs == 0) {
            run.silenceTimerMs = nowMs + settings.lostAfterMs;
            ctx.timerService().registerProcessingTimeTimer(run.silenceTimerMs);
        }
        runState.update(run);
    }

    private static String latest(String current, Row event, int field) {
        String value = (String) event.getField(field);
        return value == null ? current : value;
    }

    private static void markEpoch(Run run, long epoch) {
        for (long k : run.dirtyEpochs) {
            if (k == epoch) {
                return;
            }
        }
        run.dirtyEpochs = Arrays.copyOf(run.dirtyEpochs, run.dirtyEpochs.length + 1);
        run.dirtyEpochs[run.dirtyEpochs.length - 1] = epoch;
    }

    private static Double maxOf(Double current, Double value) {
        // Not a conditional expression: Java would unbox both branches to double.
        if (value == null) {
            return current;
        }
        if (current == null) {
            return value;
        }
        return Math.max(current, value);
    }

    private void started(Run run, Row event, ReadOnlyContext ctx) throws Exception {
        run.eventPue = maxOf(run.eventPue, (Double) event.getField(RunAccounting.EVENT_PUE));
        run.eventIntensity =
                maxOf(run.eventIntensity, (Double) event.getField(RunAccounting.EVENT_INTENSITY));
        Long plannedSteps = (Long) event.getField(RunAccounting.PLANNED_STEPS);
        Long plannedEpochs = (Long) event.getField(RunAccounting.PLANNED_EPOCHS);
        run.plannedSteps = plannedSteps == null ? run.plannedSteps : plannedSteps;
        run.plannedEpochs = plannedEpochs == null ? run.plannedEpochs : plannedEpochs;
        run.priced = true;
        // Windows are priced again with the run's own PUE and intensity: each is sent again
        // (its version counts the pricing), and late parts sent unpriced are replaced.
        for (Map.Entry<Long, Window> entry : windows.entries()) {
            Window window = entry.getValue();
            window.dirty = true;
            windows.put(entry.getKey(), window);
        }
        // So are the epochs: each is sent again, priced (its version counts the pricing).
        for (long epoch : epochs.keys()) {
            markEpoch(run, epoch);
        }
        // Its own intensity, when it brings one, wins over the grid's.
        GridSeries series = series(run, ctx.getBroadcastState(RunAccounting.GRID_STATE));
        repriceRunGrid(run, series);
        repriceLate(ctx.getCurrentKey(), run, series, ctx::output);
    }

    @Override
    public void processBroadcastElement(Row record, Context ctx, Collector<Row> out) throws Exception {
        String zone = (String) record.getField(RunAccounting.GRID_ZONE);
        long startMs = (Long) record.getField(RunAccounting.GRID_START_MS);
        GridPeriod period = new GridPeriod(startMs, (Long) record.getField(RunAccounting.GRID_END_MS),
                (Double) record.getField(RunAccounting.GRID_INTENSITY),
                (String) record.getField(RunAccounting.GRID_SOURCE),
                (Long) record.getField(RunAccounting.GRID_PUBLISHED_AT_MS));
        BroadcastState<String, GridSeries> grid = ctx.getBroadcastState(RunAccounting.GRID_STATE);
        GridSeries series = grid.get(zone);
        if (series == null) {
            series = new GridSeries();
        }
        boolean changed = series.put(period);
        if (settings.stateTtlMs > 0) {
            // No run keeps anything priced this long before the period (the state TTL).
            series.expire(startMs - Math.max(settings.stateTtlMs, settings.gridHorizonMs));
        }
        grid.put(zone, series);
        if (!changed) {
            return;
        }
        GridSeries current = series;
        ctx.applyToKeyedState(runDescriptor, (runId, state) -> {
            Run run = state.value();
            if (run == null || !zone.equals(run.region)) {
                return;
            }
            // A run with its own intensity is priced by it, whatever the grid says.
            if (reprice(runId, run, run.eventIntensity == null ? current : null, ctx)) {
                run.version++;
                out.collect(runRow(runId, run));
                run.dirty = false;
                state.update(run);
            }
        });
    }

    /** The series of the run's zone, or null when the run has its own intensity or no zone. */
    private static GridSeries series(Run run, ReadOnlyBroadcastState<String, GridSeries> grid)
            throws Exception {
        return run.eventIntensity != null || run.region == null ? null : grid.get(run.region);
    }

    /** The grid period that prices the window starting at {@code windowStartMs}, or null. */
    private static GridPeriod period(GridSeries series, long windowStartMs) {
        return series == null ? null : series.at(windowStartMs);
    }

    private long windowStartOf(long tsMs) {
        return tsMs - Math.floorMod(tsMs, settings.windowMs);
    }

    private static boolean samePeriod(Double intensity, String source, GridPeriod period) {
        return period == null
                ? intensity == null && source == null
                : Objects.equals(intensity, period.intensityGPerKwh) && Objects.equals(source, period.source);
    }

    private static Double intensityOf(GridPeriod period) {
        return period == null ? null : period.intensityGPerKwh;
    }

    private static String sourceOf(GridPeriod period) {
        return period == null ? null : period.source;
    }

    /** Where a side output goes: the context of an element, a timer or a broadcast record. */
    private interface Outputs {
        void output(OutputTag<Row> tag, Row row);
    }

    /**
     * Prices the run's grid total, windows and late parts again with {@code series}; sends
     * each window and late part whose price changed again. Returns whether anything changed.
     */
    private boolean reprice(String runId, Run run, GridSeries series, Context ctx) throws Exception {
        boolean changed = repriceRunGrid(run, series);
        changed |= repriceWindows(runId, run, series, windows, ctx::output);
        changed |= repriceWindows(runId, run, series, closedWindows, ctx::output);
        changed |= repriceLate(runId, run, series, ctx::output);
        return changed;
    }

    /**
     * Prices the run's grid-eligible energy with {@code series}: the on-time energy of its kept
     * windows and its grid buckets. When any price changed, the run's grid total is summed
     * again; returns whether it did.
     */
    private boolean repriceRunGrid(Run run, GridSeries series) throws Exception {
        IntervalPriced total = run.gridFolded.copy();
        boolean changed = repriceOnTime(run, series, windows, total);
        changed |= repriceOnTime(run, series, closedWindows, total);
        List<Map.Entry<Long, GridBucket>> buckets = new ArrayList<>();
        for (Map.Entry<Long, GridBucket> entry : gridBuckets.entries()) {
            GridBucket bucket = entry.getValue();
            GridPeriod period = period(series, entry.getKey());
            if (!samePeriod(bucket.intensity, bucket.source, period)) {
                bucket.intensity = intensityOf(period);
                bucket.source = sourceOf(period);
                run.gridSources = RunState.withSource(run.gridSources, bucket.source);
                buckets.add(Map.entry(entry.getKey(), bucket));
            }
            total.add(bucket.priced());
        }
        for (Map.Entry<Long, GridBucket> entry : buckets) {
            gridBuckets.put(entry.getKey(), entry.getValue());
        }
        changed |= !buckets.isEmpty();
        if (changed) {
            run.grid = total;
            run.dirty = true;
        }
        return changed;
    }

    /** Prices the on-time energy of the windows of {@code state} with {@code series}, and adds
     * it to {@code total}; returns whether any price changed. */
    private static boolean repriceOnTime(Run run, GridSeries series, MapState<Long, Window> state,
            IntervalPriced total) throws Exception {
        List<Map.Entry<Long, Window>> changed = new ArrayList<>();
        for (Map.Entry<Long, Window> entry : state.entries()) {
            Window window = entry.getValue();
            if (window.gridFolded) {
                continue;
            }
            GridPeriod period = period(series, entry.getKey());
            if (!samePeriod(window.gridIntensity, window.gridSource, period)) {
                window.gridIntensity = intensityOf(period);
                window.gridSource = sourceOf(period);
                run.gridSources = RunState.withSource(run.gridSources, window.gridSource);
                changed.add(Map.entry(entry.getKey(), window));
            }
            total.add(window.gridPriced());
        }
        for (Map.Entry<Long, Window> entry : changed) {
            state.put(entry.getKey(), entry.getValue());
        }
        return !changed.isEmpty();
    }

    /** Sends again each sent window of {@code state} whose grid period changed. */
    private boolean repriceWindows(String runId, Run run, GridSeries series,
            MapState<Long, Window> state, Outputs out) throws Exception {
        List<Map.Entry<Long, Window>> changed = new ArrayList<>();
        for (Map.Entry<Long, Window> entry : state.entries()) {
            Window window = entry.getValue();
            long windowStartMs = entry.getKey();
            GridPeriod period = period(series, windowStartMs);
            WindowValues sent = window.sent;
            if (sent == null || samePeriod(sent.totals.gridIntensity, sent.totals.gridSource, period)) {
                continue;
            }
            WindowValues now = sent.copy();
            now.totals.priceGrid(period);
            // The version moves forward: a document priced again replaces the one before.
            now.totals.repriced++;
            window.now.totals.repriced = now.totals.repriced;
            out.output(RunAccounting.WINDOWS_TAG, windowRow(RowKind.UPDATE_BEFORE, runId, windowStartMs, sent));
            out.output(RunAccounting.WINDOWS_TAG, windowRow(RowKind.UPDATE_AFTER, runId, windowStartMs, now));
            window.sent = now;
            changed.add(Map.entry(windowStartMs, window));
        }
        for (Map.Entry<Long, Window> entry : changed) {
            state.put(entry.getKey(), entry.getValue());
        }
        return !changed.isEmpty();
    }

    /** Sends again each kept late part whose run pricing or grid period changed. */
    private boolean repriceLate(String runId, Run run, GridSeries series, Outputs out) throws Exception {
        List<LatePart> kept = new ArrayList<>();
        boolean changed = false;
        int priced = run.priced ? 1 : 0;
        for (LatePart part : lateParts.get()) {
            GridPeriod period = period(series, windowStartOf(part.tsMs));
            PricedTotals t = part.totals;
            boolean samePricing = t.priced == priced && Objects.equals(t.eventPue, run.eventPue)
                    && Objects.equals(t.eventIntensity, run.eventIntensity);
            if (!samePricing || !samePeriod(t.gridIntensity, t.gridSource, period)) {
                out.output(RunAccounting.LATE_PARTS_TAG, latePart(RowKind.UPDATE_BEFORE, runId, part));
                if (t.priced == priced) {
                    t.repriced++;
                }
                t.priced = priced;
                t.eventPue = run.eventPue;
                t.eventIntensity = run.eventIntensity;
                t.priceGrid(period);
                out.output(RunAccounting.LATE_PARTS_TAG, latePart(RowKind.UPDATE_AFTER, runId, part));
                changed = true;
            }
            kept.add(part);
        }
        if (changed) {
            lateParts.update(kept);
        }
        return changed;
    }

    private void measured(Run run, Row event, long tsMs, ReadOnlyContext ctx) throws Exception {
        long seq = (Long) event.getField(RunAccounting.SEQ);
        Long intervalStartMs = (Long) event.getField(RunAccounting.INTERVAL_START_MS);
        double cpuJ = orZero(event.getField(RunAccounting.CPU_ENERGY_J));
        double gpuJ = orZero(event.getField(RunAccounting.GPU_ENERGY_J));
        double ramJ = orZero(event.getField(RunAccounting.RAM_ENERGY_J));
        double energyJ = cpuJ + gpuJ + ramJ;
        long samples = orZero((Long) event.getField(RunAccounting.SAMPLES));
        long tokens = orZero((Long) event.getField(RunAccounting.TOKENS));
        Long epoch = (Long) event.getField(RunAccounting.EPOCH);
        Long step = (Long) event.getField(RunAccounting.STEP);
        Double loss = (Double) event.getField(RunAccounting.LOSS);
        Double accuracy = (Double) event.getField(RunAccounting.ACCURACY);
        Double intervalIntensity = (Double) event.getField(RunAccounting.INTERVAL_INTENSITY);

        run.events++;
        if (intervalStartMs != null) {
            run.startedMs = run.startedMs == null ? intervalStartMs : Math.min(run.startedMs, intervalStartMs);
            if (tsMs > intervalStartMs) {
                double powerW = energyJ * 1000.0 / (double) (tsMs - intervalStartMs);
                if (RunState.replaces(run.powerW, run.powerSeq, powerW, seq)) {
                    run.powerW = powerW;
                    run.powerSeq = seq;
                }
            }
        }
        run.lastEventMs = run.lastEventMs == null ? tsMs : Math.max(run.lastEventMs, tsMs);
        run.samples += samples;
        run.tokens += tokens;
        if (epoch != null) {
            run.epoch = run.epoch == null ? epoch : Math.max(run.epoch, epoch);
        }
        if (step != null) {
            run.step = run.step == null ? step : Math.max(run.step, step);
        }
        if (loss != null && RunState.replaces(run.loss, run.lossSeq, loss, seq)) {
            run.loss = loss;
            run.lossSeq = seq;
        }
        if (accuracy != null && RunState.replaces(run.accuracy, run.accuracySeq, accuracy, seq)) {
            run.accuracy = accuracy;
            run.accuracySeq = seq;
        }
        run.totals.add(cpuJ, gpuJ, ramJ, energyJ, intervalIntensity);
        RunState.addGpus(run, (Object[]) event.getField(RunAccounting.GPUS),
                intervalStartMs == null ? 0 : tsMs - intervalStartMs);
        String cpuMethod = (String) event.getField(RunAccounting.CPU_METHOD);
        String ramMethod = (String) event.getField(RunAccounting.RAM_METHOD);
        String gpuMethod = (String) event.getField(RunAccounting.GPU_METHOD);
        run.cpuMethodMin = RunState.min(run.cpuMethodMin, cpuMethod);
        run.cpuMethodMax = RunState.max(run.cpuMethodMax, cpuMethod);
        run.ramMethodMin = RunState.min(run.ramMethodMin, ramMethod);
        run.ramMethodMax = RunState.max(run.ramMethodMax, ramMethod);
        run.gpuMethodMin = RunState.min(run.gpuMethodMin, gpuMethod);
        run.gpuMethodMax = RunState.max(run.gpuMethodMax, gpuMethod);

        if (epoch != null) {
            Epoch e = epochs.get(epoch);
            if (e == null) {
                e = new Epoch();
            }
            e.events++;
            if (intervalStartMs != null) {
                e.startedMs = e.startedMs == null ? intervalStartMs : Math.min(e.startedMs, intervalStartMs);
            }
            e.endedMs = Math.max(e.endedMs, tsMs);
            e.totals.add(cpuJ, gpuJ, ramJ, energyJ, intervalIntensity);
            e.samples += samples;
            e.tokens += tokens;
            if (loss != null && RunState.replaces(e.loss, e.lossSeq, loss, seq)) {
                e.loss = loss;
                e.lossSeq = seq;
            }
            if (accuracy != null && RunState.replaces(e.accuracy, e.accuracySeq, accuracy, seq)) {
                e.accuracy = accuracy;
                e.accuracySeq = seq;
            }
            epochs.put(epoch, e);
            markEpoch(run, epoch);
        }

        GridSeries series = series(run, ctx.getBroadcastState(RunAccounting.GRID_STATE));
        long windowStartMs = windowStartOf(tsMs);
        String lateReason =
                run.finished ? AFTER_FINISHED : tsMs <= run.progressMs - settings.delayMs ? BEHIND : null;
        String runId = ctx.getCurrentKey();
        if (lateReason != null) {
            ctx.output(RunAccounting.LATE_TAG, Row.of(
                    event.getField(RunAccounting.EVENT_ID), runId, seq, tsMs,
                    run.progressMs - settings.delayMs, lateReason, cpuJ, gpuJ, ramJ, energyJ));
            if (intervalIntensity == null) {
                addToBucket(run, windowStartMs, cpuJ, gpuJ, ramJ, energyJ, period(series, windowStartMs));
            }
            LatePart part = new LatePart();
            part.userId = (String) event.getField(RunAccounting.USER_ID);
            part.model = (String) event.getField(RunAccounting.MODEL);
            part.region = (String) event.getField(RunAccounting.REGION);
            part.tsMs = tsMs;
            PricedTotals t = part.totals;
            t.add(cpuJ, gpuJ, ramJ, energyJ, intervalIntensity);
            if (run.priced) {
                t.eventPue = run.eventPue;
                t.eventIntensity = run.eventIntensity;
                t.priced = 1;
            }
            t.priceGrid(period(series, windowStartMs));
            ctx.output(RunAccounting.LATE_PARTS_TAG, latePart(RowKind.INSERT, runId, part));
            lateParts.add(part);
            return;
        }
        Window window = windows.get(windowStartMs);
        if (window == null) {
            window = new Window();
            GridPeriod period = period(series, windowStartMs);
            window.gridIntensity = intensityOf(period);
            window.gridSource = sourceOf(period);
        }
        if (intervalIntensity == null) {
            if (window.gridFolded) {
                addToBucket(run, windowStartMs, cpuJ, gpuJ, ramJ, energyJ, period(series, windowStartMs));
            } else {
                run.grid.add(cpuJ, gpuJ, ramJ, energyJ, window.gridIntensity);
                run.gridSources = RunState.withSource(run.gridSources, window.gridSource);
            }
        }
        WindowValues w = window.now;
        w.userId = (String) event.getField(RunAccounting.USER_ID);
        w.model = (String) event.getField(RunAccounting.MODEL);
        w.region = (String) event.getField(RunAccounting.REGION);
        w.events++;
        if (epoch != null) {
            w.epoch = w.epoch == null ? epoch : Math.max(w.epoch, epoch);
        }
        w.samples += samples;
        w.tokens += tokens;
        if (loss != null && RunState.replaces(w.loss, w.lossSeq, loss, seq)) {
            w.loss = loss;
            w.lossSeq = seq;
        }
        if (accuracy != null && RunState.replaces(w.accuracy, w.accuracySeq, accuracy, seq)) {
            w.accuracy = accuracy;
            w.accuracySeq = seq;
        }
        w.totals.add(cpuJ, gpuJ, ramJ, energyJ, intervalIntensity);
        window.dirty = true;
        windows.put(windowStartMs, window);
    }

    /** Adds grid-eligible energy that no kept window holds to its window start's bucket, and
     * its price to the run's grid total. */
    private void addToBucket(Run run, long windowStartMs, double cpuJ, double gpuJ, double ramJ,
            double energyJ, GridPeriod period) throws Exception {
        GridBucket bucket = addToBucket(windowStartMs, cpuJ, gpuJ, ramJ, energyJ,
                intensityOf(period), sourceOf(period));
        run.grid.add(cpuJ, gpuJ, ramJ, energyJ, bucket.intensity);
        run.gridSources = RunState.withSource(run.gridSources, bucket.source);
    }

    /** Adds energy to its window start's bucket, which is priced at {@code intensity} from
     * {@code source} when it is new; returns the bucket. */
    private GridBucket addToBucket(long windowStartMs, double cpuJ, double gpuJ, double ramJ,
            double energyJ, Double intensity, String source) throws Exception {
        GridBucket bucket = gridBuckets.get(windowStartMs);
        if (bucket == null) {
            bucket = new GridBucket();
            bucket.intensity = intensity;
            bucket.source = source;
        }
        bucket.cpuEnergyJ += cpuJ;
        bucket.gpuEnergyJ += gpuJ;
        bucket.ramEnergyJ += ramJ;
        bucket.energyJ += energyJ;
        gridBuckets.put(windowStartMs, bucket);
        return bucket;
    }

    private static double orZero(Object value) {
        return value == null ? 0.0 : (Double) value;
    }

    private static long orZero(Long value) {
        return value == null ? 0L : value;
    }

    private static Row latePart(RowKind kind, String runId, LatePart part) {
        return row(kind, new Object[] {runId, part.userId, part.model, part.region, part.tsMs},
                part.totals.values());
    }

    private static Row row(RowKind kind, Object[]... parts) {
        return Row.ofKind(kind, Arrays.stream(parts).flatMap(Arrays::stream).toArray());
    }

    @Override
    public void onTimer(long timestampMs, OnTimerContext ctx, Collector<Row> out) throws Exception {
        Run run = runState.value();
        if (run == null) {
            return;
        }
        if (timestampMs == run.silenceTimerMs) {
            run.silenceTimerMs = 0;
            if (!run.finished) {
                long silentAtMs = run.heardMs + settings.lostAfterMs;
                if (timestampMs < silentAtMs) {
                    // Heard since the timer was set: wait for the rest of the silence.
                    run.silenceTimerMs = silentAtMs;
                    ctx.timerService().registerProcessingTimeTimer(silentAtMs);
                } else if (run.silentMs <= run.heardMs) {
                    run.silentMs = timestampMs;
                    run.version++;
                    run.dirty = true;
                }
            }
        }
        if (timestampMs == run.sweepTimerMs) {
            run.sweepTimerMs = 0;
            sweep(run, timestampMs, ctx);
        }
        if (timestampMs == run.flushTimerMs || (run.dirty && run.flushTimerMs == 0)) {
            run.flushTimerMs = 0;
            flush(run, ctx, out);
        }
        runState.update(run);
    }

    /** How often a run's expired state is swept: hourly, or each dedup TTL when shorter. */
    private long sweepEveryMs() {
        long hour = 3_600_000L;
        return settings.dedupTtlMs > 0 ? Math.min(hour, settings.dedupTtlMs) : hour;
    }

    /**
     * Forgets event ids older than the dedup TTL and, once the run has been silent for the
     * state TTL, its windows, epochs and unpriced late parts (its totals stay). Swept again
     * while anything is left to expire.
     */
    private void sweep(Run run, long nowMs, OnTimerContext ctx) throws Exception {
        boolean left = false;
        if (settings.dedupTtlMs > 0) {
            List<String> expired = new ArrayList<>();
            for (Map.Entry<String, Long> entry : seen.entries()) {
                if (nowMs - entry.getValue() >= settings.dedupTtlMs) {
                    expired.add(entry.getKey());
                } else {
                    left = true;
                }
            }
            for (String eventId : expired) {
                seen.remove(eventId);
            }
        }
        if (settings.stateTtlMs > 0 && nowMs - run.heardMs >= settings.stateTtlMs) {
            // Their on-time grid energy stays within the re-pricing horizon, in grid buckets.
            for (Map.Entry<Long, Window> entry : windows.entries()) {
                Window window = entry.getValue();
                if (!window.gridFolded) {
                    Totals t = window.now.totals;
                    addToBucket(entry.getKey(), t.cpuEnergyJ - t.interval.cpuEnergyJ,
                            t.gpuEnergyJ - t.interval.gpuEnergyJ, t.ramEnergyJ - t.interval.ramEnergyJ,
                            t.energyJ - t.interval.energyJ, window.gridIntensity, window.gridSource);
                }
            }
            windows.clear();
            epochs.clear();
            run.dirtyEpochs = new long[0];
        } else if (settings.stateTtlMs > 0 && (!windows.isEmpty() || !epochs.isEmpty())) {
            left = true;
        }
        left |= foldPastHorizon(run, nowMs);
        if (left) {
            run.sweepTimerMs = nowMs + sweepEveryMs();
            ctx.timerService().registerProcessingTimeTimer(run.sweepTimerMs);
        }
    }

    /**
     * Forgets what a new grid figure can no longer price again: the windows, late parts and
     * buckets that start more than the horizon before the run's progress, or all of them once
     * the run has been silent that long (their price stays in the run's totals, and a window
     * still open keeps its totals). Returns whether any is left.
     */
    private boolean foldPastHorizon(Run run, long nowMs) throws Exception {
        long beforeMs = nowMs - run.heardMs >= settings.gridHorizonMs
                ? Long.MAX_VALUE : run.progressMs - settings.gridHorizonMs;
        List<Long> folded = new ArrayList<>();
        for (Map.Entry<Long, GridBucket> entry : gridBuckets.entries()) {
            if (entry.getKey() < beforeMs) {
                run.gridFolded.add(entry.getValue().priced());
                folded.add(entry.getKey());
            }
        }
        for (long windowStartMs : folded) {
            gridBuckets.remove(windowStartMs);
        }
        List<Map.Entry<Long, Window>> open = new ArrayList<>();
        boolean openLeft = false;
        for (Map.Entry<Long, Window> entry : windows.entries()) {
            Window window = entry.getValue();
            if (window.gridFolded) {
                continue;
            }
            if (entry.getKey() < beforeMs) {
                run.gridFolded.add(window.gridPriced());
                window.gridFolded = true;
                open.add(entry);
            } else {
                openLeft = true;
            }
        }
        for (Map.Entry<Long, Window> entry : open) {
            windows.put(entry.getKey(), entry.getValue());
        }
        List<Long> expired = new ArrayList<>();
        for (Map.Entry<Long, Window> entry : closedWindows.entries()) {
            if (entry.getKey() < beforeMs) {
                run.gridFolded.add(entry.getValue().gridPriced());
                expired.add(entry.getKey());
            }
        }
        for (long windowStartMs : expired) {
            closedWindows.remove(windowStartMs);
        }
        List<LatePart> kept = new ArrayList<>();
        boolean dropped = false;
        for (LatePart part : lateParts.get()) {
            if (windowStartOf(part.tsMs) < beforeMs) {
                dropped = true;
            } else {
                kept.add(part);
            }
        }
        if (dropped) {
            lateParts.update(kept);
        }
        return openLeft || !gridBuckets.isEmpty() || !closedWindows.isEmpty() || !kept.isEmpty();
    }

    /** Sends what changed since the last flush: the run, its changed windows and epochs. */
    private void flush(Run run, OnTimerContext ctx, Collector<Row> out) throws Exception {
        String runId = ctx.getCurrentKey();
        GridSeries series = series(run, ctx.getBroadcastState(RunAccounting.GRID_STATE));
        if (run.dirty) {
            out.collect(runRow(runId, run));
            run.dirty = false;
        }
        // Changed after the walk: not every state backend lets an entry change during it.
        List<Map.Entry<Long, Window>> changed = new ArrayList<>();
        List<Long> closed = new ArrayList<>();
        for (Map.Entry<Long, Window> entry : windows.entries()) {
            long windowStartMs = entry.getKey();
            Window window = entry.getValue();
            boolean isClosed =
                    run.finished || run.progressMs - settings.delayMs >= windowStartMs + settings.windowMs;
            if (window.dirty) {
                WindowValues now = window.now;
                now.totals.eventPue = run.eventPue;
                now.totals.eventIntensity = run.eventIntensity;
                now.totals.priced = run.priced ? 1 : 0;
                now.totals.priceGrid(period(series, windowStartMs));
                if (window.sent != null) {
                    ctx.output(RunAccounting.WINDOWS_TAG, windowRow(RowKind.UPDATE_BEFORE, runId, windowStartMs, window.sent));
                    ctx.output(RunAccounting.WINDOWS_TAG, windowRow(RowKind.UPDATE_AFTER, runId, windowStartMs, now));
                } else {
                    ctx.output(RunAccounting.WINDOWS_TAG, windowRow(RowKind.INSERT, runId, windowStartMs, now));
                }
                window.sent = now.copy();
                window.dirty = false;
                changed.add(Map.entry(windowStartMs, window));
            }
            // A closed, priced window can change no more: no on-time event can reach it.
            if (isClosed && run.priced) {
                closed.add(windowStartMs);
            }
        }
        for (Map.Entry<Long, Window> entry : changed) {
            windows.put(entry.getKey(), entry.getValue());
        }
        for (long windowStartMs : closed) {
            // Kept as sent while a later grid figure may price it again.
            if (run.eventIntensity == null) {
                closedWindows.put(windowStartMs, windows.get(windowStartMs));
            }
            windows.remove(windowStartMs);
        }
        for (long epoch : run.dirtyEpochs) {
            Epoch e = epochs.get(epoch);
            if (e != null) {
                ctx.output(RunAccounting.EPOCHS_TAG, epochRow(runId, epoch, e, run));
            }
        }
        run.dirtyEpochs = new long[0];
    }

    /** An epoch's grid columns: it is not priced by grid periods (see RunAccounting.EPOCHS). */
    private static final Object[] NO_GRID = new IntervalPriced().values();

    private static Row epochRow(String runId, long epoch, Epoch e, Run run) {
        Totals t = e.totals;
        return row(RowKind.INSERT, new Object[] {runId, epoch, e.events, e.startedMs, e.endedMs,
                t.cpuEnergyJ, t.gpuEnergyJ, t.ramEnergyJ, t.energyJ, e.samples, e.tokens, e.loss,
                e.accuracy},
                t.interval.values(),
                NO_GRID,
                new Object[] {run.region, run.eventPue, run.eventIntensity, run.priced ? 1 : 0});
    }

    private Row runRow(String runId, Run run) {
        String status = run.finishedStatus != null
                ? run.finishedStatus
                : run.silentMs > run.heardMs ? "lost" : "running";
        return row(RowKind.INSERT, new Object[] {runId, run.userId, run.project, run.model,
                run.region, run.dataset, run.framework, status, run.events, run.lastSeq,
                run.startedMs, run.lastEventMs, run.finishedMs, run.progressMs - settings.delayMs,
                run.samples, run.tokens, run.powerW, run.epoch, run.step, run.loss, run.accuracy},
                run.totals.values(),
                new Object[] {run.eventPue, run.eventIntensity, run.cpuMethodMin,
                run.cpuMethodMax, run.ramMethodMin, run.ramMethodMax, run.gpuMethodMin,
                run.gpuMethodMax, run.version, run.plannedSteps, run.plannedEpochs,
                RunState.gpuTotals(run)},
                run.grid.values(), new Object[] {run.gridSources.clone()});
    }

    private static Row windowRow(RowKind kind, String runId, long windowStartMs, WindowValues w) {
        return row(kind, new Object[] {runId, w.userId, w.model, w.region, windowStartMs,
                w.events, w.epoch, w.samples, w.tokens, w.loss, w.accuracy},
                w.totals.values());
    }
}
