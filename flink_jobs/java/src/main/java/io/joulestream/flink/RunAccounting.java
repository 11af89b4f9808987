package io.joulestream.flink;

import java.io.Serializable;
import java.util.Arrays;
import java.util.List;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.typeutils.RowTypeInfo;
import org.apache.flink.streaming.api.datastream.BroadcastStream;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.table.api.Table;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

/**
 * Wires {@link RunProcessor} between the job's SQL: reads the checked events (a view whose
 * columns are {@link #INPUT}, in that order), sends each record that is not a valid event to
 * the dead letters, keys the valid ones by run and registers the processor's outputs as
 * temporary views for the SQL that prices and stores them ({@code flink_jobs/sql}).
 */
public final class RunAccounting {

    private RunAccounting() {}

    /** The columns of the input view, in order. */
    public static final List<String> INPUT = List.of(
            "event_id", "event_type", "run_id", "seq", "ts_ms", "user_id", "project", "model",
            "region", "dataset", "framework", "event_pue", "event_intensity", "finished_status",
            "interval_start_ms", "cpu_energy_j", "gpu_energy_j", "ram_energy_j", "cpu_method",
            "ram_method", "gpu_method", "samples", "tokens", "epoch", "step", "loss", "accuracy",
            "interval_intensity_g_per_kwh", "invalid_reason", "kafka_partition", "kafka_offset", "raw_bytes",
            // Appended after the rest, so that no earlier index moves.
            "planned_steps", "planned_epochs", "gpus");

    static final int EVENT_ID = 0;
    static final int EVENT_TYPE = 1;
    static final int RUN_ID = 2;
    static final int SEQ = 3;
    static final int TS_MS = 4;
    static final int USER_ID = 5;
    static final int PROJECT = 6;
    static final int MODEL = 7;
    static final int REGION = 8;
    static final int DATASET = 9;
    static final int FRAMEWORK = 10;
    static final int EVENT_PUE = 11;
    static final int EVENT_INTENSITY = 12;
    static final int FINISHED_STATUS = 13;
    static final int INTERVAL_START_MS = 14;
    static final int CPU_ENERGY_J = 15;
    static final int GPU_ENERGY_J = 16;
    static final int RAM_ENERGY_J = 17;
    static final int CPU_METHOD = 18;
    static final int RAM_METHOD = 19;
    static final int GPU_METHOD = 20;
    static final int SAMPLES = 21;
    static final int TOKENS = 22;
    static final int EPOCH = 23;
    static final int STEP = 24;
    static final int LOSS = 25;
    static final int ACCURACY = 26;
    static final int INTERVAL_INTENSITY = 27;
    static final int INVALID_REASON = 28;
    static final int KAFKA_PARTITION = 29;
    static final int KAFKA_OFFSET = 30;
    static final int RAW_BYTES = 31;
    /** run_started's plan (contract version 3): the steps and epochs the run will take. */
    static final int PLANNED_STEPS = 32;
    static final int PLANNED_EPOCHS = 33;
    /** measurement.gpus: rows of (index, energy_j, method, utilisation). */
    static final int GPUS = 34;
    static final int GPU_INDEX = 0;
    static final int GPU_ENERGY = 1;
    static final int GPU_UTILISATION = 3;

    /** The columns of the grid view: checked {@code grid.intensity} records of the kind the
     * job prices with, in that order. */
    public static final List<String> GRID_INPUT = List.of(
            "zone", "start_ms", "end_ms", "intensity_g_per_kwh", "source", "published_at_ms");
    static final int GRID_ZONE = 0;
    static final int GRID_START_MS = 1;
    static final int GRID_END_MS = 2;
    static final int GRID_INTENSITY = 3;
    static final int GRID_SOURCE = 4;
    static final int GRID_PUBLISHED_AT_MS = 5;

    /** Every zone's grid series, on every instance of the run accounting. */
    static final MapStateDescriptor<String, GridSeries> GRID_STATE = new MapStateDescriptor<>(
            "grid-series", Types.STRING, Types.POJO(GridSeries.class));

    /** The contract's bounds on a GPU (schemas/limits.py MAX_GPUS, MAX_DEVICE_POWER_W and
     * MIN_CREDITED_INTERVAL_MS; tests/test_sql.py checks that they agree). The SQL checks
     * cannot look into every element of an array: the Split does. */
    static final int MAX_GPUS = 256;
    static final double MAX_DEVICE_POWER_W = 5000.0;
    static final long MIN_CREDITED_INTERVAL_MS = 1000;

    /** One GPU's totals in a run's document. */
    static final TypeInformation<Row> GPU_TOTALS = Types.ROW_NAMED(
            new String[] {"gpu_index", "energy_j", "mean_utilisation"},
            Types.LONG, Types.DOUBLE, Types.DOUBLE);

    private static final String[] ENERGIES = {
        "cpu_energy_j", "gpu_energy_j", "ram_energy_j", "energy_j"
    };

    private static RowTypeInfo row(Object... namesAndTypes) {
        String[] names = new String[namesAndTypes.length / 2];
        TypeInformation<?>[] types = new TypeInformation<?>[names.length];
        for (int i = 0; i < names.length; i++) {
            names[i] = (String) namesAndTypes[2 * i];
            types[i] = (TypeInformation<?>) namesAndTypes[2 * i + 1];
        }
        return new RowTypeInfo(types, names);
    }

    private static Object[] energies() {
        Object[] out = new Object[ENERGIES.length * 2];
        for (int i = 0; i < ENERGIES.length; i++) {
            out[2 * i] = ENERGIES[i];
            out[2 * i + 1] = Types.DOUBLE;
        }
        return out;
    }

    /**
     * Energy priced by some figure, and its product with that figure (J g/kWh): the columns
     * {@code <energy>_<suffix>} and {@code <energy>_x_<suffix>_intensity}. {@code interval}:
     * priced by its intervals' own intensity; {@code grid}: by its zone's grid series.
     */
    private static Object[] priced(String suffix) {
        Object[] out = new Object[ENERGIES.length * 4];
        for (int i = 0; i < ENERGIES.length; i++) {
            out[2 * i] = ENERGIES[i] + "_" + suffix;
            out[2 * i + 1] = Types.DOUBLE;
            out[2 * (ENERGIES.length + i)] = ENERGIES[i] + "_x_" + suffix + "_intensity";
            out[2 * (ENERGIES.length + i) + 1] = Types.DOUBLE;
        }
        return out;
    }

    /** A window's or late part's grid period (null when none priced it) and how often it was
     * priced again by a new figure. */
    private static Object[] gridPeriod() {
        return new Object[] {
            "grid_intensity_g_per_kwh", Types.DOUBLE, "grid_source", Types.STRING,
            "repriced", Types.INT
        };
    }

    private static Object[] concat(Object[]... parts) {
        return Arrays.stream(parts).flatMap(Arrays::stream).toArray();
    }

    /** Per run: what its events have said so far (the main output). */
    static final RowTypeInfo RUNS = row(concat(
            new Object[] {
                "run_id", Types.STRING, "user_id", Types.STRING, "project", Types.STRING,
                "model", Types.STRING, "region", Types.STRING, "dataset", Types.STRING,
                "framework", Types.STRING, "status", Types.STRING, "events", Types.LONG,
                "last_seq", Types.LONG, "started_ms", Types.LONG, "last_event_ms", Types.LONG,
                "finished_ms", Types.LONG, "watermark_ms", Types.LONG, "samples", Types.LONG,
                "tokens", Types.LONG, "power_w", Types.DOUBLE, "epoch", Types.LONG,
                "step", Types.LONG, "loss", Types.DOUBLE, "accuracy", Types.DOUBLE
            },
            energies(),
            priced("interval"),
            new Object[] {
                "event_pue", Types.DOUBLE, "event_intensity", Types.DOUBLE,
                "cpu_method_min", Types.STRING, "cpu_method_max", Types.STRING,
                "ram_method_min", Types.STRING, "ram_method_max", Types.STRING,
                "gpu_method_min", Types.STRING, "gpu_method_max", Types.STRING,
                "version", Types.LONG,
                // Appended: the plan from run_started, and per-GPU totals by index.
                "planned_steps", Types.LONG, "planned_epochs", Types.LONG,
                "gpus", Types.OBJECT_ARRAY(GPU_TOTALS)
            },
            // Appended: the grid-priced energy and the distinct sources that priced it.
            priced("grid"),
            new Object[] {"grid_sources", Types.OBJECT_ARRAY(Types.STRING)}));

    /** Per run and event-time window, its on-time measurements: a changelog. */
    static final RowTypeInfo WINDOWS = row(concat(
            new Object[] {
                "run_id", Types.STRING, "user_id", Types.STRING, "model", Types.STRING,
                "region", Types.STRING, "window_start_ms", Types.LONG, "events", Types.LONG,
                "epoch", Types.LONG, "samples", Types.LONG, "tokens", Types.LONG,
                "loss", Types.DOUBLE, "accuracy", Types.DOUBLE
            },
            energies(),
            priced("interval"),
            new Object[] {
                "event_pue", Types.DOUBLE, "event_intensity", Types.DOUBLE, "priced", Types.INT
            },
            priced("grid"),
            gridPeriod()));

    /** Per run and epoch, every measurement reporting it, with what prices it. */
    static final RowTypeInfo EPOCHS = row(concat(
            new Object[] {
                "run_id", Types.STRING, "epoch", Types.LONG, "events", Types.LONG,
                "started_ms", Types.LONG, "ended_ms", Types.LONG
            },
            energies(),
            new Object[] {
                "samples", Types.LONG, "tokens", Types.LONG, "loss", Types.DOUBLE,
                "accuracy", Types.DOUBLE
            },
            priced("interval"),
            // Always 0: an epoch spans many grid periods and is not priced by them (its run
            // and its windows are); the columns are there for the shared CO2e expression.
            priced("grid"),
            new Object[] {
                "region", Types.STRING, "event_pue", Types.DOUBLE, "event_intensity", Types.DOUBLE,
                "priced", Types.INT
            }));

    /** Each late measurement, once. */
    static final RowTypeInfo LATE = row(concat(
            new Object[] {
                "event_id", Types.STRING, "run_id", Types.STRING, "seq", Types.LONG,
                "ts_ms", Types.LONG, "watermark_ms", Types.LONG, "reason", Types.STRING
            },
            energies()));

    /** Each late measurement's part of the rollups, priced like its run: a changelog. */
    static final RowTypeInfo LATE_PARTS = row(concat(
            new Object[] {
                "run_id", Types.STRING, "user_id", Types.STRING, "model", Types.STRING,
                "region", Types.STRING, "ts_ms", Types.LONG
            },
            energies(),
            priced("interval"),
            new Object[] {
                "event_pue", Types.DOUBLE, "event_intensity", Types.DOUBLE, "priced", Types.INT
            },
            priced("grid"),
            gridPeriod()));

    /** Each record that is not a valid event, with why. */
    static final RowTypeInfo DEAD_LETTERS = row(
            "reason", Types.STRING, "kafka_partition", Types.INT, "kafka_offset", Types.LONG,
            "raw_bytes", Types.PRIMITIVE_ARRAY(Types.BYTE), "event_id", Types.STRING,
            "run_id", Types.STRING, "event_type", Types.STRING, "received_ms", Types.LONG);

    static final OutputTag<Row> WINDOWS_TAG = new OutputTag<>("windows", WINDOWS);
    static final OutputTag<Row> EPOCHS_TAG = new OutputTag<>("epochs", EPOCHS);
    static final OutputTag<Row> LATE_TAG = new OutputTag<>("late", LATE);
    static final OutputTag<Row> LATE_PARTS_TAG = new OutputTag<>("late-parts", LATE_PARTS);
    static final OutputTag<Row> DEAD_LETTERS_TAG = new OutputTag<>("dead-letters", DEAD_LETTERS);

    /** The processor's settings, all in milliseconds. */
    /** JOULESTREAM_GRID_REPRICE_HORIZON_S's default: a day. */
    static final long DEFAULT_GRID_HORIZON_MS = 86_400_000L;

    public static final class Settings implements Serializable {
        private static final long serialVersionUID = 1L;
        final long delayMs;
        final long windowMs;
        final long lostAfterMs;
        final long dedupTtlMs;
        final long stateTtlMs;
        final long flushMs;
        final int maxTextLength;
        /** How long after a window's start a new grid figure still prices it again. */
        final long gridHorizonMs;

        public Settings(long delayMs, long windowMs, long lostAfterMs, long dedupTtlMs,
                long stateTtlMs, long flushMs, int maxTextLength) {
            this(delayMs, windowMs, lostAfterMs, dedupTtlMs, stateTtlMs, flushMs, maxTextLength,
                    DEFAULT_GRID_HORIZON_MS);
        }

        public Settings(long delayMs, long windowMs, long lostAfterMs, long dedupTtlMs,
                long stateTtlMs, long flushMs, int maxTextLength, long gridHorizonMs) {
            if (windowMs <= 0 || lostAfterMs <= 0 || flushMs <= 0 || maxTextLength <= 0
                    || gridHorizonMs <= 0) {
                throw new IllegalArgumentException(
                        "window, silence, flush, text and grid horizon limits must be > 0");
            }
            this.gridHorizonMs = gridHorizonMs;
            this.delayMs = delayMs;
            this.windowMs = windowMs;
            this.lostAfterMs = lostAfterMs;
            this.dedupTtlMs = dedupTtlMs;
            this.stateTtlMs = stateTtlMs;
            this.flushMs = flushMs;
            this.maxTextLength = maxTextLength;
        }
    }

    /**
     * Reads {@code input} and the grid periods of {@code gridInput} (a view whose columns are
     * {@link #GRID_INPUT}), registers the views {@code run_totals}, {@code window_totals},
     * {@code epoch_totals}, {@code late_measurements}, {@code late_parts} and
     * {@code invalid_records}. Called from Python through the gateway.
     */
    public static void attach(
            StreamTableEnvironment tEnv, String input, String gridInput, Settings settings) {
        Table events = tEnv.from(input);
        List<String> columns = events.getResolvedSchema().getColumnNames();
        if (!columns.equals(INPUT)) {
            throw new IllegalArgumentException(
                    "the view " + input + " must have the columns " + INPUT + ", has " + columns);
        }
        DataStream<Row> rows = tEnv.toDataStream(events);
        SingleOutputStreamOperator<Row> valid = rows
                .process(new Split(settings.maxTextLength), rows.getType())
                .name("valid-or-dead-letter")
                .uid("valid-or-dead-letter");
        BroadcastStream<Row> grid = gridStream(tEnv, gridInput).broadcast(GRID_STATE);
        SingleOutputStreamOperator<Row> runs = valid
                .keyBy(row -> (String) row.getField(RUN_ID), Types.STRING)
                .connect(grid)
                .process(new RunProcessor(settings), RUNS)
                .name("run-accounting")
                .uid("run-accounting");
        tEnv.createTemporaryView("run_totals", tEnv.fromDataStream(runs));
        tEnv.createTemporaryView("window_totals",
                tEnv.fromChangelogStream(runs.getSideOutput(WINDOWS_TAG)));
        tEnv.createTemporaryView("epoch_totals", tEnv.fromDataStream(runs.getSideOutput(EPOCHS_TAG)));
        tEnv.createTemporaryView("late_measurements", tEnv.fromDataStream(runs.getSideOutput(LATE_TAG)));
        tEnv.createTemporaryView("late_parts",
                tEnv.fromChangelogStream(runs.getSideOutput(LATE_PARTS_TAG)));
        tEnv.createTemporaryView("invalid_records",
                tEnv.fromDataStream(valid.getSideOutput(DEAD_LETTERS_TAG)));
    }

    /** The grid periods of {@code gridInput}, checked and of the job's kind. */
    private static DataStream<Row> gridStream(StreamTableEnvironment tEnv, String gridInput) {
        Table periods = tEnv.from(gridInput);
        List<String> columns = periods.getResolvedSchema().getColumnNames();
        if (!columns.equals(GRID_INPUT)) {
            throw new IllegalArgumentException(
                    "the view " + gridInput + " must have the columns " + GRID_INPUT + ", has " + columns);
        }
        return tEnv.toDataStream(periods);
    }

    /** Valid events go on to their run; any other record becomes a dead-letter row. */
    static final class Split extends ProcessFunction<Row, Row> {
        private static final long serialVersionUID = 1L;
        private final int maxTextLength;

        Split(int maxTextLength) {
            this.maxTextLength = maxTextLength;
        }

        @Override
        public void processElement(Row row, Context ctx, Collector<Row> out) {
            String reason = (String) row.getField(INVALID_REASON);
            if (reason == null) {
                reason = gpusReason(row);
            }
            if (reason == null) {
                out.collect(row);
                return;
            }
            ctx.output(DEAD_LETTERS_TAG, Row.of(
                    reason, row.getField(KAFKA_PARTITION), row.getField(KAFKA_OFFSET),
                    row.getField(RAW_BYTES), cut(row.getField(EVENT_ID)), cut(row.getField(RUN_ID)),
                    cut(row.getField(EVENT_TYPE)), ctx.timerService().currentProcessingTime()));
        }

        /**
         * Why a measurement's per-GPU figures break the contract (null when they do not): at
         * most MAX_GPUS devices, each with an index in [0, MAX_GPUS), a finite energy within
         * 0 and MAX_DEVICE_POWER_W over the interval, and a utilisation in [0, 1] or null.
         */
        static String gpusReason(Row row) {
            Object[] gpus = (Object[]) row.getField(GPUS);
            if (gpus == null) {
                return null;
            }
            if (gpus.length > MAX_GPUS) {
                return "measurement.gpus has " + gpus.length + " devices, at most " + MAX_GPUS;
            }
            Long startMs = (Long) row.getField(INTERVAL_START_MS);
            long tsMs = (Long) row.getField(TS_MS);
            long creditedMs = Math.max(startMs == null ? 0 : tsMs - startMs, MIN_CREDITED_INTERVAL_MS);
            double maxJ = MAX_DEVICE_POWER_W * creditedMs / 1000.0;
            for (Object item : gpus) {
                Row gpu = (Row) item;
                if (gpu == null) {
                    return "measurement.gpus holds a null device";
                }
                Integer index = (Integer) gpu.getField(GPU_INDEX);
                Double energyJ = (Double) gpu.getField(GPU_ENERGY);
                Double utilisation = (Double) gpu.getField(GPU_UTILISATION);
                if (index == null || index < 0 || index >= MAX_GPUS) {
                    return "measurement.gpus[].index = " + index + " is not in [0, " + MAX_GPUS + ")";
                }
                if (energyJ == null || !(energyJ >= 0 && energyJ <= maxJ)) {
                    return "measurement.gpus[" + index + "].energy_j = " + energyJ
                            + " J is not finite or not within 0 and " + MAX_DEVICE_POWER_W
                            + " W over the interval";
                }
                if (utilisation != null && !(utilisation >= 0 && utilisation <= 1)) {
                    return "measurement.gpus[" + index + "].utilisation = " + utilisation
                            + " is not within [0, 1]";
                }
            }
            return null;
        }

        /** Cut to the contract's length: a record is often a dead letter for an id far too long. */
        private String cut(Object value) {
            String text = (String) value;
            if (text == null || text.isEmpty()) {
                return null;
            }
            if (text.length() <= maxTextLength) {
                return text;
            }
            // Never half of a character outside the BMP.
            int end = Character.isHighSurrogate(text.charAt(maxTextLength - 1))
                    ? maxTextLength - 1 : maxTextLength;
            return text.substring(0, end);
        }
    }
}
