package io.joulestream.flink;

import java.util.Collections;
import java.util.Set;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.factories.DeserializationFormatFactory;
import org.apache.flink.table.factories.DynamicTableFactory;

/**
 * Format {@code joulestream-avro}: reads what Flink's {@code avro} format reads (plain Avro
 * binary, schema derived from the table's columns), with two differences. A record it cannot
 * decode does not fail the job: it becomes a row with placeholder columns and the metadata
 * columns {@code error} (why) and {@code raw} (the bytes) set, so the job can route it to a
 * dead-letter collection and keep going. And bytes after the end of the record are ignored, so
 * records of a newer contract version (fields appended at the end) are read as this version.
 */
public final class DeadLetterFormatFactory implements DeserializationFormatFactory {

    public static final String IDENTIFIER = "joulestream-avro";

    @Override
    public DecodingFormat<DeserializationSchema<RowData>> createDecodingFormat(
            DynamicTableFactory.Context context, ReadableConfig formatOptions) {
        return new DeadLetterDecodingFormat();
    }

    @Override
    public String factoryIdentifier() {
        return IDENTIFIER;
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        return Collections.emptySet();
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        return Collections.emptySet();
    }
}
