package io.joulestream.flink;

import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.sink.DynamicTableSink;
import org.apache.flink.table.connector.sink.SinkV2Provider;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.types.RowKind;

/** The table side of {@link GuardedMongoSink}: takes inserts and upserts by primary key. */
final class GuardedMongoTableSink implements DynamicTableSink {

    private final GuardedMongoSink.Settings settings;
    private final RowType rowType;

    GuardedMongoTableSink(GuardedMongoSink.Settings settings, RowType rowType) {
        this.settings = settings;
        this.rowType = rowType;
    }

    @Override
    public ChangelogMode getChangelogMode(ChangelogMode requestedMode) {
        // Upserts: UPDATE_BEFORE is not needed. DELETE is accepted and ignored: a stored result
        // is never removed (the statements writing here only retract rows they then replace).
        return ChangelogMode.newBuilder()
                .addContainedKind(RowKind.INSERT)
                .addContainedKind(RowKind.UPDATE_AFTER)
                .addContainedKind(RowKind.DELETE)
                .build();
    }

    @Override
    public SinkRuntimeProvider getSinkRuntimeProvider(Context context) {
        return SinkV2Provider.of(new GuardedMongoSink(settings, rowType));
    }

    @Override
    public DynamicTableSink copy() {
        return new GuardedMongoTableSink(settings, rowType);
    }

    @Override
    public String asSummaryString() {
        return "joulestream-mongodb(" + settings.collection + ", " + settings.mode + ")";
    }
}
