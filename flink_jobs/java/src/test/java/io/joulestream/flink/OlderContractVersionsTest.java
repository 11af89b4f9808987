package io.joulestream.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.flink.api.common.functions.util.ListCollector;
import org.apache.flink.avro.shaded.org.apache.avro.Schema;
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericData;
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericDatumWriter;
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericRecord;
import org.apache.flink.avro.shaded.org.apache.avro.io.BinaryEncoder;
import org.apache.flink.avro.shaded.org.apache.avro.io.EncoderFactory;
import org.apache.flink.formats.avro.typeutils.AvroSchemaConverter;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.types.logical.RowType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A job of contract version 3 reads records of versions 1 and 2 (an old emitter, an old spool
 * replayed): fields are only ever appended, nullable, so an earlier record is a prefix of the
 * fields, and the appended ones are null. Shaped like the contract's own evolution: version 2
 * appended an intensity and its source, version 3 a plan of steps and epochs.
 */
class OlderContractVersionsTest {

    private static final List<DataTypes.Field> V1 = List.of(
            DataTypes.FIELD("event_id", DataTypes.STRING().notNull()),
            DataTypes.FIELD("seq", DataTypes.BIGINT().notNull()),
            DataTypes.FIELD("energy_j", DataTypes.DOUBLE()));
    private static final List<DataTypes.Field> V2 = concat(V1, List.of(
            DataTypes.FIELD("interval_intensity_g_per_kwh", DataTypes.DOUBLE()),
            DataTypes.FIELD("interval_intensity_source", DataTypes.STRING())));
    private static final List<DataTypes.Field> V3 = concat(V2, List.of(
            DataTypes.FIELD("planned_steps", DataTypes.BIGINT()),
            DataTypes.FIELD("planned_epochs", DataTypes.INT())));

    private DeadLetterDeserializationSchema job;

    private static List<DataTypes.Field> concat(List<DataTypes.Field> a, List<DataTypes.Field> b) {
        List<DataTypes.Field> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    private static RowType type(List<DataTypes.Field> fields) {
        return (RowType) DataTypes.ROW(fields.toArray(new DataTypes.Field[0])).notNull().getLogicalType();
    }

    @BeforeEach
    void open() throws Exception {
        job = new DeadLetterDeserializationSchema(
                type(V3), new String[] {DeadLetterDecodingFormat.ERROR, DeadLetterDecodingFormat.RAW}, null);
        job.open(null);
    }

    private static byte[] encode(List<DataTypes.Field> fields, Object... values) throws IOException {
        Schema schema = AvroSchemaConverter.convertToSchema(type(fields));
        GenericRecord record = new GenericData.Record(schema);
        for (int i = 0; i < values.length; i++) {
            record.put(i, values[i]);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<GenericRecord>(schema).write(record, encoder);
        encoder.flush();
        return out.toByteArray();
    }

    private RowData read(byte[] message) {
        List<RowData> rows = new ArrayList<>();
        job.deserialize(message, new ListCollector<>(rows));
        assertEquals(1, rows.size());
        return rows.get(0);
    }

    private static GenericRowData row(Object... values) {
        return GenericRowData.of(values);
    }

    @Test
    void aVersion3RecordIsReadWhole() throws IOException {
        byte[] record = encode(V3, "e-1", 7L, 12.5, 212.5, "grid", 1000L, 10);
        assertEquals(row(StringData.fromString("e-1"), 7L, 12.5, 212.5,
                StringData.fromString("grid"), 1000L, 10, null, null), read(record));
    }

    @Test
    void aVersion2RecordHasNoPlan() throws IOException {
        byte[] record = encode(V2, "e-1", 7L, 12.5, 212.5, "grid");
        assertEquals(row(StringData.fromString("e-1"), 7L, 12.5, 212.5,
                StringData.fromString("grid"), null, null, null, null), read(record));
    }

    @Test
    void aVersion1RecordHasNeitherIntensityNorPlan() throws IOException {
        byte[] record = encode(V1, "e-1", 7L, 12.5);
        assertEquals(row(StringData.fromString("e-1"), 7L, 12.5, null, null, null, null, null, null),
                read(record));
    }

    @Test
    void aTruncatedOlderRecordIsStillADeadLetter() throws IOException {
        byte[] record = encode(V1, "e-1", 7L, 12.5);
        RowData row = read(Arrays.copyOf(record, record.length - 2));
        assertTrue(row.getString(7).toString().startsWith("not an Avro training event"));
    }
}
