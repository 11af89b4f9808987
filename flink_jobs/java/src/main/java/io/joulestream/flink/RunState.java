package io.joulestream.flink;

import io.joulestream.flink.GridSeries.GridPeriod;
import java.util.Arrays;
import java.util.stream.Stream;
import org.apache.flink.types.Row;

/**
 * The keyed state of one run in {@link RunProcessor}: plain objects with public fields, so that
 * Flink serializes them with its POJO serializer (checkpoints and RocksDB) and the heap backend
 * keeps them as they are.
 */
public final class RunState {

    private RunState() {}

    /**
     * The energy of the intervals that carried their own carbon intensity, and that energy
     * times the intensity (J × g/kWh), per component: the SQL prices these intervals with
     * their own figure and the rest with the run's (PUE applies to both).
     */
    public static final class IntervalPriced {
        public double cpuEnergyJ;
        public double gpuEnergyJ;
        public double ramEnergyJ;
        public double energyJ;
        public double cpuJgPerKwh;
        public double gpuJgPerKwh;
        public double ramJgPerKwh;
        public double jgPerKwh;

        void add(double cpuJ, double gpuJ, double ramJ, double totalJ, Double intensity) {
            if (intensity == null) {
                return;
            }
            cpuEnergyJ += cpuJ;
            gpuEnergyJ += gpuJ;
            ramEnergyJ += ramJ;
            energyJ += totalJ;
            cpuJgPerKwh += cpuJ * intensity;
            gpuJgPerKwh += gpuJ * intensity;
            ramJgPerKwh += ramJ * intensity;
            jgPerKwh += totalJ * intensity;
        }

        /** Subtracts {@code other}: what a part priced before, when it is priced again. */
        void subtract(IntervalPriced other) {
            cpuEnergyJ -= other.cpuEnergyJ;
            gpuEnergyJ -= other.gpuEnergyJ;
            ramEnergyJ -= other.ramEnergyJ;
            energyJ -= other.energyJ;
            cpuJgPerKwh -= other.cpuJgPerKwh;
            gpuJgPerKwh -= other.gpuJgPerKwh;
            ramJgPerKwh -= other.ramJgPerKwh;
            jgPerKwh -= other.jgPerKwh;
        }

        void add(IntervalPriced other) {
            cpuEnergyJ += other.cpuEnergyJ;
            gpuEnergyJ += other.gpuEnergyJ;
            ramEnergyJ += other.ramEnergyJ;
            energyJ += other.energyJ;
            cpuJgPerKwh += other.cpuJgPerKwh;
            gpuJgPerKwh += other.gpuJgPerKwh;
            ramJgPerKwh += other.ramJgPerKwh;
            jgPerKwh += other.jgPerKwh;
        }

        IntervalPriced copy() {
            IntervalPriced c = new IntervalPriced();
            c.cpuEnergyJ = cpuEnergyJ;
            c.gpuEnergyJ = gpuEnergyJ;
            c.ramEnergyJ = ramEnergyJ;
            c.energyJ = energyJ;
            c.cpuJgPerKwh = cpuJgPerKwh;
            c.gpuJgPerKwh = gpuJgPerKwh;
            c.ramJgPerKwh = ramJgPerKwh;
            c.jgPerKwh = jgPerKwh;
            return c;
        }

        Object[] values() {
            return new Object[] {
                cpuEnergyJ, gpuEnergyJ, ramEnergyJ, energyJ,
                cpuJgPerKwh, gpuJgPerKwh, ramJgPerKwh, jgPerKwh
            };
        }
    }

    /**
     * Energy per component (J) and the part of it that its intervals priced with their own
     * intensity: what a run, an epoch, a window and a late part each sum.
     */
    public static class Totals {
        public double cpuEnergyJ;
        public double gpuEnergyJ;
        public double ramEnergyJ;
        public double energyJ;
        public IntervalPriced interval = new IntervalPriced();

        /** Adds one measurement; {@code intervalIntensity} is its own figure, or null. */
        void add(double cpuJ, double gpuJ, double ramJ, double totalJ, Double intervalIntensity) {
            cpuEnergyJ += cpuJ;
            gpuEnergyJ += gpuJ;
            ramEnergyJ += ramJ;
            energyJ += totalJ;
            interval.add(cpuJ, gpuJ, ramJ, totalJ, intervalIntensity);
        }

        /** Its energy that no interval priced (the grid-eligible part), priced at
         * {@code intensityGPerKwh}; nothing when that is null. */
        IntervalPriced gridPart(Double intensityGPerKwh) {
            IntervalPriced p = new IntervalPriced();
            p.add(cpuEnergyJ - interval.cpuEnergyJ, gpuEnergyJ - interval.gpuEnergyJ,
                    ramEnergyJ - interval.ramEnergyJ, energyJ - interval.energyJ, intensityGPerKwh);
            return p;
        }

        void copyTo(Totals c) {
            c.cpuEnergyJ = cpuEnergyJ;
            c.gpuEnergyJ = gpuEnergyJ;
            c.ramEnergyJ = ramEnergyJ;
            c.energyJ = energyJ;
            c.interval = interval.copy();
        }

        /** Its columns: the energies, then {@link IntervalPriced#values()}. */
        Object[] values() {
            return Stream.of(new Object[] {cpuEnergyJ, gpuEnergyJ, ramEnergyJ, energyJ},
                    interval.values()).flatMap(Arrays::stream).toArray();
        }
    }

    /**
     * A window's or late part's totals with how they are priced when sent: the run's own PUE
     * and intensity (once its run_started has arrived), and the grid period of the window's
     * start, which prices the energy its intervals did not.
     */
    public static final class PricedTotals extends Totals {
        public Double eventPue;
        public Double eventIntensity;
        public int priced;
        /** Its energy priced by the grid period of its window's start, that period's figure
         * and source (null when none priced it), and how often a new figure priced it again. */
        public IntervalPriced grid = new IntervalPriced();
        public Double gridIntensity;
        public String gridSource;
        public int repriced;

        /** Prices it with {@code period} (null: not grid priced). */
        void priceGrid(GridPeriod period) {
            gridIntensity = period == null ? null : period.intensityGPerKwh;
            gridSource = period == null ? null : period.source;
            grid = gridPart(gridIntensity);
        }

        PricedTotals copy() {
            PricedTotals c = new PricedTotals();
            copyTo(c);
            c.eventPue = eventPue;
            c.eventIntensity = eventIntensity;
            c.priced = priced;
            c.grid = grid.copy();
            c.gridIntensity = gridIntensity;
            c.gridSource = gridSource;
            c.repriced = repriced;
            return c;
        }

        /** Its columns: {@link Totals#values()}, the run's pricing, then the grid's. */
        @Override
        Object[] values() {
            return Stream.of(super.values(), new Object[] {eventPue, eventIntensity, priced},
                    grid.values(), new Object[] {gridIntensity, gridSource, repriced})
                    .flatMap(Arrays::stream).toArray();
        }
    }

    /** What the run's events have said so far: the source of its {@code runs} document. */
    public static final class Run {
        public String userId;
        public String project;
        public String model;
        public String region;
        public String dataset;
        public String framework;
        public String finishedStatus;
        /** The highest ts_ms of the run's valid events, copies included: its event time. */
        public long progressMs = Long.MIN_VALUE;
        public boolean finished;
        public long events;
        public long lastSeq = Long.MIN_VALUE;
        public Long startedMs;
        public Long lastEventMs;
        public Long finishedMs;
        public long samples;
        public long tokens;
        public Long epoch;
        public Long step;
        public Double powerW;
        public long powerSeq;
        public Double loss;
        public long lossSeq;
        public Double accuracy;
        public long accuracySeq;
        public Totals totals = new Totals();
        /** The energy priced by its zone's grid series and its product with the intensity:
         * its kept windows' on-time part, its grid buckets' and what was folded past the
         * horizon. */
        public IntervalPriced grid = new IntervalPriced();
        /** The part of {@code grid} of windows and buckets folded past the re-pricing
         * horizon: fixed. */
        public IntervalPriced gridFolded = new IntervalPriced();
        /** The distinct sources of the grid periods that have priced some of its energy. */
        public String[] gridSources = new String[0];
        public Double eventPue;
        public Double eventIntensity;
        /** Its run_started has arrived: windows and late parts are priced with the run's own
         * PUE and intensity (or the table's, where the event says nothing). */
        public boolean priced;
        public String cpuMethodMin;
        public String cpuMethodMax;
        public String ramMethodMin;
        public String ramMethodMax;
        public String gpuMethodMin;
        public String gpuMethodMax;
        /** Events counted and silences found: the document's version. */
        public long version;
        /** From run_started (contract version 3): the steps and epochs the run will take. */
        public Long plannedSteps;
        public Long plannedEpochs;
        /** Per GPU, in order of first report: its index, energy, utilisation times the
         * milliseconds it was reported for, and those milliseconds. */
        public long[] gpuIndexes = new long[0];
        public double[] gpuEnergiesJ = new double[0];
        public double[] gpuUtilisationMs = new double[0];
        public long[] gpuUtilisedMs = new long[0];
        /** Processing time of the last event, and of the silence that made the run lost. */
        public long heardMs;
        public long silentMs;
        public long flushTimerMs;
        public long silenceTimerMs;
        public long sweepTimerMs;
        public boolean dirty;
        /** Epochs changed since the last flush (a short list: the run's current epoch). */
        public long[] dirtyEpochs = new long[0];
    }

    /** The totals of one window, as summed or as last sent. */
    public static final class WindowValues {
        public String userId;
        public String model;
        public String region;
        public long events;
        public Long epoch;
        public long samples;
        public long tokens;
        public Double loss;
        public long lossSeq;
        public Double accuracy;
        public long accuracySeq;
        public PricedTotals totals = new PricedTotals();

        WindowValues copy() {
            WindowValues c = new WindowValues();
            c.userId = userId;
            c.model = model;
            c.region = region;
            c.events = events;
            c.epoch = epoch;
            c.samples = samples;
            c.tokens = tokens;
            c.loss = loss;
            c.lossSeq = lossSeq;
            c.accuracy = accuracy;
            c.accuracySeq = accuracySeq;
            c.totals = totals.copy();
            return c;
        }
    }

    /** One event-time window of a run: its totals now, and what was last sent downstream (a
     * change retracts exactly that, so the rollups stay the sum of the windows). */
    public static final class Window {
        public WindowValues now = new WindowValues();
        public WindowValues sent;
        public boolean dirty;
        /** The grid period that prices its on-time energy in the run's grid total (null:
         * none), kept as the series changes: the window holds that energy, no grid bucket. */
        public Double gridIntensity;
        public String gridSource;
        /** That energy was folded into the run's fixed part past the re-pricing horizon;
         * what reaches the window after it goes to a grid bucket. */
        public boolean gridFolded;

        /** Its on-time energy as priced in the run's grid total (nothing once folded). */
        IntervalPriced gridPriced() {
            return gridFolded ? new IntervalPriced() : now.totals.gridPart(gridIntensity);
        }
    }

    /** One training epoch of a run (every measurement reporting it, late ones too), priced
     * like the run: its intervals' own intensity first, then the run's. */
    public static final class Epoch {
        public long events;
        public Long startedMs;
        public long endedMs = Long.MIN_VALUE;
        public Totals totals = new Totals();
        public long samples;
        public long tokens;
        public Double loss;
        public long lossSeq;
        public Double accuracy;
        public long accuracySeq;
    }

    /** A late measurement's part of the rollups, as last sent: it is sent again, priced, when
     * the run's run_started arrives, and when a new grid figure prices it otherwise. Kept
     * within the re-pricing horizon. */
    public static final class LatePart {
        public String userId;
        public String model;
        public String region;
        public long tsMs;
        public PricedTotals totals = new PricedTotals();
    }

    /** The grid-eligible energy of one window start of a run that no kept window holds (its
     * late measurements without their own intensity, and the on-time energy of a window
     * dropped or folded before the horizon), and how it is priced now. */
    public static final class GridBucket {
        public double cpuEnergyJ;
        public double gpuEnergyJ;
        public double ramEnergyJ;
        public double energyJ;
        /** Null: not priced by the grid (no period, or the run has its own intensity). */
        public Double intensity;
        public String source;

        /** Its energy priced at its intensity (nothing when that is null). */
        IntervalPriced priced() {
            IntervalPriced p = new IntervalPriced();
            p.add(cpuEnergyJ, gpuEnergyJ, ramEnergyJ, energyJ, intensity);
            return p;
        }
    }

    /** Adds a source to a run's distinct grid sources (a short sorted list). */
    static String[] withSource(String[] sources, String source) {
        if (source == null || Arrays.asList(sources).contains(source)) {
            return sources;
        }
        String[] grown = Arrays.copyOf(sources, sources.length + 1);
        grown[sources.length] = source;
        Arrays.sort(grown);
        return grown;
    }

    /** Adds one measurement's per-GPU energy and utilisation (over {@code intervalMs}). */
    static void addGpus(Run run, Object[] gpus, long intervalMs) {
        if (gpus == null) {
            return;
        }
        for (Object item : gpus) {
            Row gpu = (Row) item;
            long index = (Integer) gpu.getField(RunAccounting.GPU_INDEX);
            int at = 0;
            while (at < run.gpuIndexes.length && run.gpuIndexes[at] != index) {
                at++;
            }
            if (at == run.gpuIndexes.length) {
                run.gpuIndexes = Arrays.copyOf(run.gpuIndexes, at + 1);
                run.gpuEnergiesJ = Arrays.copyOf(run.gpuEnergiesJ, at + 1);
                run.gpuUtilisationMs = Arrays.copyOf(run.gpuUtilisationMs, at + 1);
                run.gpuUtilisedMs = Arrays.copyOf(run.gpuUtilisedMs, at + 1);
                run.gpuIndexes[at] = index;
            }
            run.gpuEnergiesJ[at] += (Double) gpu.getField(RunAccounting.GPU_ENERGY);
            Double utilisation = (Double) gpu.getField(RunAccounting.GPU_UTILISATION);
            if (utilisation != null && intervalMs > 0) {
                run.gpuUtilisationMs[at] += utilisation * intervalMs;
                run.gpuUtilisedMs[at] += intervalMs;
            }
        }
    }

    /** The per-GPU totals of a run's document, by index: (gpu_index, energy_j,
     * mean_utilisation), the mean weighted by time and null where none was reported. */
    static Row[] gpuTotals(Run run) {
        Integer[] order = new Integer[run.gpuIndexes.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Long.compare(run.gpuIndexes[a], run.gpuIndexes[b]));
        Row[] rows = new Row[order.length];
        for (int i = 0; i < order.length; i++) {
            int at = order[i];
            Double mean = run.gpuUtilisedMs[at] > 0
                    ? run.gpuUtilisationMs[at] / run.gpuUtilisedMs[at] : null;
            rows[i] = Row.of(run.gpuIndexes[at], run.gpuEnergiesJ[at], mean);
        }
        return rows;
    }

    /** LATEST_BY_SEQ's rule: the value with the highest seq, the larger value on a tie. */
    static boolean replaces(Double current, long currentSeq, double value, long seq) {
        return current == null
                || seq > currentSeq
                || (seq == currentSeq && Double.compare(value, current) > 0);
    }

    static String min(String current, String value) {
        return value == null || (current != null && current.compareTo(value) <= 0) ? current : value;
    }

    static String max(String current, String value) {
        return value == null || (current != null && current.compareTo(value) >= 0) ? current : value;
    }
}
