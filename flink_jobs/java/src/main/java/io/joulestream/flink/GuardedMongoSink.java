package io.joulestream.flink;

import java.io.IOException;
import java.io.Serializable;
import java.util.Collection;
import java.util.Locale;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.api.connector.sink2.SupportsWriterState;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.RowType;

/**
 * A Sink V2 writing rows to one MongoDB collection with a version guard. The rows not yet
 * stored at a checkpoint are kept in the checkpoint (the writer's state) rather than written
 * while the checkpoint waits: see {@link GuardedMongoWriter}.
 */
final class GuardedMongoSink implements Sink<RowData>, SupportsWriterState<RowData, byte[]> {

    private static final long serialVersionUID = 1L;

    enum Mode {
        REPLACE_IF_NEWER,
        INSERT_ONCE;

        static Mode parse(String text) {
            try {
                return valueOf(text.replace('-', '_').toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(
                        "write-mode must be replace-if-newer or insert-once, got '" + text + "'");
            }
        }
    }

    static final class Settings implements Serializable {
        private static final long serialVersionUID = 1L;
        final String uri;
        final String username;
        final String password;
        final String database;
        final String collection;
        final Mode mode;
        final String versionField;
        final int maxRows;
        final long intervalMs;
        final int maxRetries;

        Settings(
                String uri,
                String username,
                String password,
                String database,
                String collection,
                Mode mode,
                String versionField,
                int maxRows,
                long intervalMs,
                int maxRetries) {
            this.uri = uri;
            this.username = username;
            this.password = password;
            this.database = database;
            this.collection = collection;
            this.mode = mode;
            this.versionField = versionField;
            this.maxRows = maxRows;
            this.intervalMs = intervalMs;
            this.maxRetries = maxRetries;
        }
    }

    private final Settings settings;
    private final RowType rowType;

    GuardedMongoSink(Settings settings, RowType rowType) {
        this.settings = settings;
        this.rowType = rowType;
    }

    @Override
    @Deprecated
    public StatefulSinkWriter<RowData, byte[]> createWriter(InitContext context) {
        throw new UnsupportedOperationException("needs a Flink that passes a WriterInitContext");
    }

    @Override
    public StatefulSinkWriter<RowData, byte[]> createWriter(WriterInitContext context)
            throws IOException {
        return restoreWriter(context, java.util.List.of());
    }

    @Override
    public StatefulSinkWriter<RowData, byte[]> restoreWriter(
            WriterInitContext context, Collection<byte[]> pending) throws IOException {
        return new GuardedMongoWriter(
                settings, rowType, context.getProcessingTimeService(), pending);
    }

    @Override
    public SimpleVersionedSerializer<byte[]> getWriterStateSerializer() {
        return PendingRowsSerializer.INSTANCE;
    }

    /** The writer's state is already bytes (its pending rows, see GuardedMongoWriter). */
    static final class PendingRowsSerializer implements SimpleVersionedSerializer<byte[]> {
        static final PendingRowsSerializer INSTANCE = new PendingRowsSerializer();

        @Override
        public int getVersion() {
            return 1;
        }

        @Override
        public byte[] serialize(byte[] pending) {
            return pending;
        }

        @Override
        public byte[] deserialize(int version, byte[] serialized) throws IOException {
            if (version != 1) {
                throw new IOException("unknown version " + version + " of the sink's pending rows");
            }
            return serialized;
        }
    }
}
