package io.joulestream.flink;

import com.mongodb.ConnectionString;
import com.mongodb.MongoBulkWriteException;
import com.mongodb.MongoClientSettings;
import com.mongodb.MongoCredential;
import com.mongodb.MongoException;
import com.mongodb.MongoWriteException;
import com.mongodb.bulk.BulkWriteError;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import com.mongodb.client.MongoCollection;
import com.mongodb.client.model.BulkWriteOptions;
import com.mongodb.client.model.Filters;
import com.mongodb.client.model.InsertOneModel;
import com.mongodb.client.model.ReplaceOneModel;
import com.mongodb.client.model.Projections;
import com.mongodb.client.model.WriteModel;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.flink.api.common.operators.ProcessingTimeService;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.runtime.typeutils.RowDataSerializer;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.types.RowKind;
import org.bson.BsonDateTime;
import org.bson.BsonDocument;
import org.bson.BsonString;
import org.bson.BsonValue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Buffers the newest row per {@code _id} and writes them in unordered bulks. Rows are converted
 * to BSON only when flushed: a run's totals change with every event, but only the last change
 * of each second is written. In {@code insert-once} mode a duplicate-key error (code 11000:
 * the document exists) is the expected outcome of a replay, not a failure.
 *
 * <p>The timed flushes write on a thread of their own, one batch at a time, so that the
 * operator feeding the sink keeps going while the database answers (a slow store otherwise
 * holds back the whole chain); while a batch is being written the buffer keeps collecting.
 *
 * <p>A checkpoint does not wait for the store: the rows not yet known to be stored (the batch
 * being written and the buffer) go into the checkpoint as this writer's state, and a writer
 * restored from it writes them again (the version guard makes a second write of a row a
 * no-op). Waiting instead stopped the whole chain ahead of the sink for every checkpoint while
 * the store wrote a few seconds of windows: about half of the job's time in the throughput
 * benchmark (docs/benchmarks.md). Only the end of a bounded input waits for every row. A
 * failed background write fails the task at the next call, which restores from the last
 * checkpoint and writes the same documents again.
 */
final class GuardedMongoWriter implements StatefulSinkWriter<RowData, byte[]> {

    private static final Logger LOG = LoggerFactory.getLogger(GuardedMongoWriter.class);
    private static final Pattern AUTH_SOURCE = Pattern.compile("[?&]authSource=([^&]+)");
    /** Ids per read of stored versions: well inside a 16 MB query. */
    static final int READ_CHUNK = 500;

    private final GuardedMongoSink.Settings settings;
    private final RowToBson converter;
    private final VersionGuard<RowData> guard;
    private final ProcessingTimeService timers;
    private final MongoClient client;
    private final MongoCollection<BsonDocument> collection;
    private final MongoCollection<BsonDocument> deadLetters;
    private final ExecutorService io;
    private Map<String, RowData> buffer = new LinkedHashMap<>();
    private Future<?> inFlight;
    /** The rows of {@link #inFlight}, until it is known to be written. */
    private Map<String, RowData> inFlightRows = Map.of();
    private final RowDataSerializer serializer;
    private final int idIndex;
    private final int versionIndex;

    GuardedMongoWriter(
            GuardedMongoSink.Settings settings,
            RowType rowType,
            ProcessingTimeService timers,
            Collection<byte[]> pending)
            throws IOException {
        this.settings = settings;
        this.converter = new RowToBson(rowType);
        this.serializer = new RowDataSerializer(rowType);
        this.idIndex = rowType.getFieldIndex("_id");
        this.versionIndex = rowType.getFieldIndex(settings.versionField);
        this.guard = new VersionGuard<>(settings.mode, this::version);
        this.timers = timers;
        this.client = connect(settings);
        this.collection =
                client.getDatabase(settings.database)
                        .getCollection(settings.collection, BsonDocument.class);
        this.deadLetters =
                client.getDatabase(settings.database)
                        .getCollection("dead_letters", BsonDocument.class);
        this.io =
                Executors.newSingleThreadExecutor(
                        task -> {
                            Thread thread = new Thread(task, "mongodb-" + settings.collection);
                            thread.setDaemon(true);
                            return thread;
                        });
        for (byte[] rows : pending) {
            restore(rows);
        }
        scheduleFlush();
    }

    /** The rows not known to be stored: the batch being written, then the newer buffer. */
    @Override
    public List<byte[]> snapshotState(long checkpointId) throws IOException {
        surfaceFailure();
        Map<String, RowData> rows = new LinkedHashMap<>(inFlightRows);
        rows.putAll(buffer);
        if (rows.isEmpty()) {
            return List.of();
        }
        DataOutputSerializer out = new DataOutputSerializer(rows.size() * 256);
        out.writeInt(rows.size());
        for (RowData row : rows.values()) {
            serializer.serialize(row, out);
        }
        return List.of(out.getCopyOfBuffer());
    }

    private void restore(byte[] rows) throws IOException {
        DataInputDeserializer in = new DataInputDeserializer(rows);
        int count = in.readInt();
        for (int i = 0; i < count; i++) {
            RowData row = serializer.deserialize(in);
            String id = row.getString(idIndex).toString();
            if (guard.buffers(buffer.get(id), row)) {
                buffer.put(id, row);
            }
        }
    }

    /**
     * A client for the URI, with the credentials given apart from it: authenticated against the
     * URI's {@code authSource}, else its database, else {@code admin}, as MongoDB does.
     */
    static MongoClient connect(GuardedMongoSink.Settings settings) {
        ConnectionString uri = new ConnectionString(settings.uri);
        MongoClientSettings.Builder builder =
                MongoClientSettings.builder().applyConnectionString(uri);
        if (settings.username != null && !settings.username.isEmpty()) {
            String source = uri.getDatabase() != null ? uri.getDatabase() : "admin";
            Matcher authSource = AUTH_SOURCE.matcher(settings.uri);
            if (authSource.find()) {
                source = authSource.group(1);
            }
            char[] password =
                    settings.password == null ? new char[0] : settings.password.toCharArray();
            builder.credential(MongoCredential.createCredential(settings.username, source, password));
        }
        return MongoClients.create(builder.build());
    }

    private void scheduleFlush() {
        timers.registerTimer(
                timers.getCurrentProcessingTime() + settings.intervalMs,
                time -> {
                    flushInBackground();
                    scheduleFlush();
                });
    }

    @Override
    public void write(RowData row, Context context) throws IOException {
        RowKind kind = row.getRowKind();
        if (kind != RowKind.INSERT && kind != RowKind.UPDATE_AFTER) {
            return;
        }
        String id = row.getString(idIndex).toString();
        if (guard.buffers(buffer.get(id), row)) {
            buffer.put(id, serializer.copy(row)); // the operator may reuse the row object
        }
        if (buffer.size() >= settings.maxRows) {
            awaitInFlight(); // a full buffer waits for the store: back-pressure
            submit();
        }
    }

    private long version(RowData row) {
        if (row.isNullAt(versionIndex)) {
            throw new IllegalStateException(
                    "row without " + settings.versionField + ": " + row.getString(idIndex));
        }
        return row.getLong(versionIndex);
    }

    /**
     * At the end of the input, everything buffered is stored when this returns. Before a
     * checkpoint it only reports a failed write: what is not stored yet goes into the
     * checkpoint ({@link #snapshotState}).
     */
    @Override
    public void flush(boolean endOfInput) throws IOException {
        if (!endOfInput) {
            surfaceFailure();
            return;
        }
        awaitInFlight();
        if (!buffer.isEmpty()) {
            submit();
            awaitInFlight();
        }
    }

    /** Fails the task if the last background write failed; never waits for one running. */
    private void surfaceFailure() throws IOException {
        if (inFlight != null && inFlight.isDone()) {
            awaitInFlight();
        }
    }

    private void flushInBackground() throws IOException {
        if (buffer.isEmpty() || (inFlight != null && !inFlight.isDone())) {
            return;
        }
        awaitInFlight(); // done: only reports a failure
        submit();
    }

    private void submit() {
        Map<String, RowData> batch = buffer;
        buffer = new LinkedHashMap<>();
        inFlightRows = batch;
        inFlight =
                io.submit(
                        () -> {
                            writeBatch(batch);
                            return null;
                        });
    }

    private void awaitInFlight() throws IOException {
        if (inFlight == null) {
            return;
        }
        Future<?> pending = inFlight;
        inFlight = null;
        try {
            pending.get();
            inFlightRows = Map.of();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw cause instanceof IOException
                    ? (IOException) cause
                    : new IOException("writing to " + settings.collection + " failed", cause);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while writing to " + settings.collection, e);
        }
    }

    private void writeBatch(Map<String, RowData> batch) throws IOException {
        List<WriteModel<BsonDocument>> models = new ArrayList<>(batch.size());
        Map<String, Long> stored =
                settings.mode == GuardedMongoSink.Mode.INSERT_ONCE
                        ? Map.of()
                        : storedVersions(batch);
        for (Map.Entry<String, RowData> entry : batch.entrySet()) {
            String id = entry.getKey();
            BsonDocument document = converter.convert(entry.getValue());
            switch (guard.action(entry.getValue(), stored.containsKey(id), stored.get(id))) {
                case INSERT:
                    models.add(new InsertOneModel<>(document));
                    break;
                case REPLACE:
                    models.add(new ReplaceOneModel<>(Filters.eq("_id", id), document));
                    break;
                case SKIP:
                    break;
            }
        }
        if (!models.isEmpty()) {
            write(models);
        }
    }

    /**
     * The stored version of every buffered {@code _id} that has a document (null: a document
     * without a version, written before versions existed, which counts as the oldest).
     *
     * <p>Reading first, rather than one upsert guarded by its filter, because a guarded upsert
     * that meets a newer document fails with a duplicate key, and FerretDB answers such a bulk
     * with a reply the driver cannot parse. One writer owns each {@code _id} (Flink routes a
     * key to one subtask), so nothing changes between this read and the write; two jobs writing
     * the same collection at once are not supported.
     *
     * <p>One {@code _id $in} query per {@value #READ_CHUNK} ids: an index lookup on MongoDB and
     * on the stack's FerretDB (its SQLite backend as published scans the collection for any
     * filter but a single {@code _id} equality; see stack/patches).
     */
    private Map<String, Long> storedVersions(Map<String, RowData> batch) {
        Map<String, Long> stored = new HashMap<>();
        List<String> ids = new ArrayList<>(batch.keySet());
        for (int from = 0; from < ids.size(); from += READ_CHUNK) {
            List<String> chunk = ids.subList(from, Math.min(from + READ_CHUNK, ids.size()));
            for (BsonDocument document :
                    collection
                            .find(Filters.in("_id", chunk))
                            .projection(Projections.include("_id", settings.versionField))) {
                BsonValue value = document.get(settings.versionField);
                stored.put(
                        document.getString("_id").getValue(),
                        value != null && value.isNumber() ? value.asNumber().longValue() : null);
            }
        }
        return stored;
    }

    /**
     * Writes the models; only transient failures (network, time-outs, a primary stepping down)
     * are retried, with backoff, and fail the task once retries are exhausted. A document the
     * server refuses for its content (too large, a value it cannot store) goes to the
     * {@code dead_letters} collection with the server's reason, and the job goes on: one
     * document must never stop the pipeline.
     */
    private void write(List<WriteModel<BsonDocument>> models) throws IOException {
        for (int attempt = 0; ; attempt++) {
            try {
                collection.bulkWrite(models, new BulkWriteOptions().ordered(false));
                return;
            } catch (RuntimeException e) { // the driver's errors are all unchecked
                switch (WriteFailures.handling(e)) {
                    case REFUSED_DOCUMENTS:
                        for (BulkWriteError error : ((MongoBulkWriteException) e).getWriteErrors()) {
                            if (WriteFailures.refuses(error)) {
                                String reason = error.getCode() + " " + error.getMessage();
                                refused(models.get(error.getIndex()), reason);
                            }
                        }
                        return;
                    case RETRY:
                        retryOrFail(attempt, e);
                        break;
                    case ONE_BY_ONE:
                        refuseEach(models, e);
                        return;
                }
            }
        }
    }

    /** After a refusal of a whole bulk: each model alone, so that only the culprits are kept. */
    private void refuseEach(List<WriteModel<BsonDocument>> models, RuntimeException error)
            throws IOException {
        if (models.size() == 1) {
            refused(models.get(0), DeadLetterDeserializationSchema.reason(error));
            return;
        }
        for (WriteModel<BsonDocument> model : models) {
            write(List.of(model));
        }
    }

    private void retryOrFail(int attempt, RuntimeException e) throws IOException {
        if (attempt >= settings.maxRetries) {
            throw new IOException("writing to " + settings.collection + " failed", e);
        }
        try {
            Thread.sleep(200L << Math.min(attempt, 6));
        } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while retrying a write", interrupted);
        }
    }

    /** A document the server refused: kept in {@code dead_letters} with the reason. */
    private void refused(WriteModel<BsonDocument> model, String reason) throws IOException {
        BsonDocument document =
                model instanceof InsertOneModel
                        ? (BsonDocument) ((InsertOneModel<?>) model).getDocument()
                        : (BsonDocument) ((ReplaceOneModel<?>) model).getReplacement();
        String id = document.isString("_id") ? document.getString("_id").getValue() : "?";
        BsonDocument letter = deadLetter(settings.collection, id, reason);
        LOG.warn("the server refused a document of {}: {}", settings.collection, reason);
        for (int attempt = 0; ; attempt++) {
            try {
                deadLetters.insertOne(letter);
                return;
            } catch (MongoWriteException e) {
                if (e.getCode() == WriteFailures.DUPLICATE_KEY) {
                    return; // already kept by an earlier attempt
                }
                throw new IOException("cannot keep a refused document in dead_letters", e);
            } catch (MongoException e) {
                if (!WriteFailures.isTransient(e)) {
                    throw new IOException("cannot keep a refused document in dead_letters", e);
                }
                retryOrFail(attempt, e);
            }
        }
    }

    static BsonDocument deadLetter(String collection, String id, String reason) {
        String shortId = id.length() > 256 ? id.substring(0, 256) : id;
        return new BsonDocument("_id", new BsonString("sink/" + collection + "/" + shortId))
                .append(
                        "reason",
                        new BsonString(
                                "the MongoDB server refused the "
                                        + collection
                                        + " document: "
                                        + (reason.length() > 1000
                                                ? reason.substring(0, 1000)
                                                : reason)))
                .append("collection", new BsonString(collection))
                .append("document_id", new BsonString(shortId))
                .append("received_at", new BsonDateTime(System.currentTimeMillis()));
    }

    @Override
    public void close() {
        io.shutdownNow();
        client.close();
    }
}
