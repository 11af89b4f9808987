package io.joulestream.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.streaming.runtime.tasks.TestProcessingTimeService;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.runtime.typeutils.RowDataSerializer;
import org.apache.flink.table.types.logical.BigIntType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.logical.VarCharType;
import org.junit.jupiter.api.Test;

/**
 * A checkpoint keeps the rows the writer has not stored yet instead of waiting for the store,
 * and a writer restored from it holds the same rows. No server: nothing is written here (the
 * timed flush never fires, and the client connects only when it writes).
 */
class GuardedMongoWriterStateTest {

    private static final RowType ROW =
            RowType.of(
                    new LogicalType[] {
                        new VarCharType(VarCharType.MAX_LENGTH), new BigIntType()
                    },
                    new String[] {"_id", "version"});

    private static GuardedMongoSink.Settings settings() {
        return new GuardedMongoSink.Settings(
                "mongodb://127.0.0.1:9", null, null, "db", "windows",
                GuardedMongoSink.Mode.REPLACE_IF_NEWER, "version", 1000, 5000, 0);
    }

    private static RowData row(String id, long version) {
        return GenericRowData.of(StringData.fromString(id), version);
    }

    private static List<String> rows(byte[] state) throws Exception {
        RowDataSerializer serializer = new RowDataSerializer(ROW);
        DataInputDeserializer in = new DataInputDeserializer(state);
        List<String> out = new ArrayList<>();
        for (int i = in.readInt(); i > 0; i--) {
            RowData row = serializer.deserialize(in);
            out.add(row.getString(0) + "@" + row.getLong(1));
        }
        return out;
    }

    @Test
    void aCheckpointKeepsTheNewestUnstoredRowPerIdAndARestoredWriterHoldsThem() throws Exception {
        TestProcessingTimeService timers = new TestProcessingTimeService();
        GuardedMongoWriter writer = new GuardedMongoWriter(settings(), ROW, timers, List.of());
        writer.write(row("run-1/a", 1), null);
        writer.write(row("run-1/b", 1), null);
        writer.write(row("run-1/a", 3), null);
        writer.write(row("run-1/a", 2), null); // older than the buffered one: dropped
        writer.flush(false); // before a checkpoint: returns without writing
        List<byte[]> state = writer.snapshotState(1);
        writer.close();
        assertEquals(1, state.size());
        assertEquals(List.of("run-1/a@3", "run-1/b@1"), rows(state.get(0)));

        GuardedMongoWriter restored = new GuardedMongoWriter(settings(), ROW, timers, state);
        List<byte[]> again = restored.snapshotState(2);
        restored.close();
        assertArrayEquals(state.get(0), again.get(0));
    }

    @Test
    void aCheckpointWithNothingUnstoredKeepsNoState() throws Exception {
        GuardedMongoWriter writer =
                new GuardedMongoWriter(settings(), ROW, new TestProcessingTimeService(), List.of());
        assertEquals(List.of(), writer.snapshotState(1));
        writer.close();
    }

    @Test
    void theStateSerializerKeepsTheBytesAndRefusesAnUnknownVersion() throws Exception {
        GuardedMongoSink.PendingRowsSerializer serializer =
                GuardedMongoSink.PendingRowsSerializer.INSTANCE;
        byte[] bytes = {1, 2, 3};
        assertArrayEquals(bytes, serializer.deserialize(1, serializer.serialize(bytes)));
        assertThrows(IOException.class, () -> serializer.deserialize(2, bytes));
    }
}
