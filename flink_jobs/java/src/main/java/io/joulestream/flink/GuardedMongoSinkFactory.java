package io.joulestream.flink;

import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.factories.DynamicTableSinkFactory;
import org.apache.flink.table.factories.FactoryUtil;
import org.apache.flink.table.types.logical.LogicalTypeRoot;
import org.apache.flink.table.types.logical.RowType;

/**
 * Connector {@code joulestream-mongodb}: writes rows to MongoDB so that a replay after a restore
 * never undoes newer data. Two modes:
 *
 * <ul>
 *   <li>{@code replace-if-newer}: the document is replaced only when the stored one has a smaller
 *       {@code version-field} (a number that grows with every change of the row's key);
 *   <li>{@code insert-once}: the first document written for an {@code _id} stays (final results:
 *       closed windows, late events, dead letters).
 * </ul>
 *
 * Rows are buffered by {@code _id} (only the newest per id is written) and flushed when the
 * buffer is full, every {@code sink.buffer-flush.interval}, and before every checkpoint, so a
 * completed checkpoint implies its writes are in MongoDB.
 */
public final class GuardedMongoSinkFactory implements DynamicTableSinkFactory {

    public static final ConfigOption<String> URI =
            ConfigOptions.key("uri").stringType().noDefaultValue();
    public static final ConfigOption<String> DATABASE =
            ConfigOptions.key("database").stringType().noDefaultValue();
    public static final ConfigOption<String> COLLECTION =
            ConfigOptions.key("collection").stringType().noDefaultValue();
    public static final ConfigOption<String> MODE =
            ConfigOptions.key("write-mode").stringType().defaultValue("replace-if-newer");
    public static final ConfigOption<String> VERSION_FIELD =
            ConfigOptions.key("version-field").stringType().defaultValue("version");
    public static final ConfigOption<Integer> MAX_ROWS =
            ConfigOptions.key("sink.buffer-flush.max-rows").intType().defaultValue(1000);
    public static final ConfigOption<Duration> INTERVAL =
            ConfigOptions.key("sink.buffer-flush.interval")
                    .durationType()
                    .defaultValue(Duration.ofSeconds(1));
    /** Credentials apart from the URI, so that no logged URI carries them; Flink hides the
     * value of an option named password wherever it prints options. */
    public static final ConfigOption<String> USERNAME =
            ConfigOptions.key("username").stringType().noDefaultValue();
    public static final ConfigOption<String> PASSWORD =
            ConfigOptions.key("password").stringType().noDefaultValue();
    public static final ConfigOption<Integer> MAX_RETRIES =
            ConfigOptions.key("sink.max-retries").intType().defaultValue(3);

    @Override
    public DynamicTableSink createDynamicTableSink(Context context) {
        FactoryUtil.TableFactoryHelper helper = FactoryUtil.createTableFactoryHelper(this, context);
        helper.validate();
        ReadableConfig options = helper.getOptions();
        RowType rowType =
                (RowType) context.getPhysicalRowDataType().getLogicalType();
        GuardedMongoSink.Mode mode = GuardedMongoSink.Mode.parse(options.get(MODE));
        String versionField = options.get(VERSION_FIELD);
        if (!rowType.getFieldNames().contains("_id")) {
            throw new ValidationException("a joulestream-mongodb table needs an _id column");
        }
        if (mode == GuardedMongoSink.Mode.REPLACE_IF_NEWER
                && (!rowType.getFieldNames().contains(versionField)
                        || rowType.getTypeAt(rowType.getFieldIndex(versionField)).getTypeRoot()
                                != LogicalTypeRoot.BIGINT)) {
            throw new ValidationException(
                    "write-mode replace-if-newer needs a BIGINT column '" + versionField + "'");
        }
        GuardedMongoSink.Settings settings =
                new GuardedMongoSink.Settings(
                        options.get(URI),
                        options.getOptional(USERNAME).orElse(null),
                        options.getOptional(PASSWORD).orElse(null),
                        options.get(DATABASE),
                        options.get(COLLECTION),
                        mode,
                        versionField,
                        options.get(MAX_ROWS),
                        options.get(INTERVAL).toMillis(),
                        options.get(MAX_RETRIES));
        return new GuardedMongoTableSink(settings, rowType);
    }

    @Override
    public String factoryIdentifier() {
        return "joulestream-mongodb";
    }

    @Override
    public Set<ConfigOption<?>> requiredOptions() {
        Set<ConfigOption<?>> options = new HashSet<>();
        options.add(URI);
        options.add(DATABASE);
        options.add(COLLECTION);
        return options;
    }

    @Override
    public Set<ConfigOption<?>> optionalOptions() {
        Set<ConfigOption<?>> options = new HashSet<>();
        options.add(MODE);
        options.add(VERSION_FIELD);
        options.add(MAX_ROWS);
        options.add(INTERVAL);
        options.add(MAX_RETRIES);
        options.add(USERNAME);
        options.add(PASSWORD);
        return options;
    }
}
