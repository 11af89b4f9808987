package io.joulestream.flink;

import com.mongodb.MongoBulkWriteException;
import com.mongodb.MongoException;
import com.mongodb.bulk.BulkWriteError;
import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import com.mongodb.client.MongoCollection;
import com.mongodb.client.model.BulkWriteOptions;
import com.mongodb.client.model.Filters;
import com.mongodb.client.model.InsertOneModel;
import com.mongodb.client.model.ReplaceOneModel;
import com.mongodb.client.model.ReplaceOptions;
import com.mongodb.client.model.WriteModel;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.operators.ProcessingTimeService;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.connector.mongodb.table.converter.RowDataToBsonConverters;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.runtime.typeutils.RowDataSerializer;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.types.RowKind;
import org.bson.BsonDocument;
import org.bson.BsonValue;

/**
 * Buffers the newest row per {@code _id} and writes them in unordered bulks. Rows are converted
 * to BSON only when flushed: a run's totals change with every event, but only the last change
 * of each second is written. A write the guard turns away surfaces as a duplicate-key error
 * (code 11000: the upsert found no older document and the {@code _id} exists) and is the
 * expected outcome, not a failure.
 */
final class GuardedMongoWriter implements SinkWriter<RowData> {

    static final int DUPLICATE_KEY = 11000;

    private final GuardedMongoSink.Settings settings;
    private final RowDataToBsonConverters.RowDataToBsonConverter converter;
    private final ProcessingTimeService timers;
    private final MongoClient client;
    private final MongoCollection<BsonDocument> collection;
    private final Map<String, RowData> buffer = new LinkedHashMap<>();
    private final RowDataSerializer serializer;
    private final int idIndex;
    private final int versionIndex;

    GuardedMongoWriter(
            GuardedMongoSink.Settings settings, RowType rowType, ProcessingTimeService timers) {
        this.settings = settings;
        this.converter = RowDataToBsonConverters.createConverter(rowType);
        this.serializer = new RowDataSerializer(rowType);
        this.idIndex = rowType.getFieldIndex("_id");
        this.versionIndex = rowType.getFieldIndex(settings.versionField);
        this.timers = timers;
        this.client = MongoClients.create(settings.uri);
        this.collection =
                client.getDatabase(settings.database)
                        .getCollection(settings.collection, BsonDocument.class);
        scheduleFlush();
    }

    private void scheduleFlush() {
        timers.registerTimer(
                timers.getCurrentProcessingTime() + settings.intervalMs,
                time -> {
                    flush(false);
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
        if (settings.mode == GuardedMongoSink.Mode.INSERT_ONCE) {
            if (!buffer.containsKey(id)) {
                buffer.put(id, serializer.copy(row));
            }
        } else {
            RowData buffered = buffer.get(id);
            if (buffered == null || version(row) >= version(buffered)) {
                buffer.put(id, serializer.copy(row)); // the operator may reuse the row object
            }
        }
        if (buffer.size() >= settings.maxRows) {
            flush(false);
        }
    }

    private long version(RowData row) {
        if (row.isNullAt(versionIndex)) {
            throw new IllegalStateException(
                    "row without " + settings.versionField + ": " + row.getString(idIndex));
        }
        return row.getLong(versionIndex);
    }

    @Override
    public void flush(boolean endOfInput) throws IOException {
        if (buffer.isEmpty()) {
            return;
        }
        List<WriteModel<BsonDocument>> models = new ArrayList<>(buffer.size());
        ReplaceOptions upsert = new ReplaceOptions().upsert(true);
        for (RowData row : buffer.values()) {
            BsonDocument document = converter.convert(row);
            if (settings.mode == GuardedMongoSink.Mode.INSERT_ONCE) {
                models.add(new InsertOneModel<>(document));
            } else {
                BsonValue version = document.get(settings.versionField);
                models.add(
                        new ReplaceOneModel<>(
                                Filters.and(
                                        Filters.eq("_id", document.get("_id")),
                                        // A document without a version (written before
                                        // versions existed) counts as the oldest.
                                        Filters.or(
                                                Filters.lt(settings.versionField, version),
                                                Filters.exists(settings.versionField, false))),
                                document,
                                upsert));
            }
        }
        write(models);
        buffer.clear();
    }

    private void write(List<WriteModel<BsonDocument>> models) throws IOException {
        for (int attempt = 0; ; attempt++) {
            try {
                collection.bulkWrite(models, new BulkWriteOptions().ordered(false));
                return;
            } catch (MongoBulkWriteException e) {
                List<String> failures = new ArrayList<>();
                for (BulkWriteError error : e.getWriteErrors()) {
                    if (error.getCode() != DUPLICATE_KEY) {
                        failures.add(error.getCode() + " " + error.getMessage());
                    }
                }
                if (failures.isEmpty() && e.getWriteConcernError() == null) {
                    return; // every error is the guard keeping a newer document
                }
                if (attempt >= settings.maxRetries) {
                    throw new IOException(
                            "writing to " + settings.collection + " failed: " + failures, e);
                }
            } catch (MongoException e) {
                if (attempt >= settings.maxRetries) {
                    throw new IOException("writing to " + settings.collection + " failed", e);
                }
            }
            try {
                Thread.sleep(200L << attempt);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while retrying a write", e);
            }
        }
    }

    @Override
    public void close() {
        client.close();
    }
}
