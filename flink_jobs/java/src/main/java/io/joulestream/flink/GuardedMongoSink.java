package io.joulestream.flink;

import java.io.IOException;
import java.io.Serializable;
import java.util.Locale;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.RowType;

/** A Sink V2 writing rows to one MongoDB collection with a version guard. */
final class GuardedMongoSink implements Sink<RowData> {

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
    public SinkWriter<RowData> createWriter(InitContext context) {
        throw new UnsupportedOperationException("needs a Flink that passes a WriterInitContext");
    }

    @Override
    public SinkWriter<RowData> createWriter(WriterInitContext context) throws IOException {
        return new GuardedMongoWriter(settings, rowType, context.getProcessingTimeService());
    }
}
