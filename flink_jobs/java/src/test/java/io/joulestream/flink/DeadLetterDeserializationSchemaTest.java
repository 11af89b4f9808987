package io.joulestream.flink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.functions.util.ListCollector;
import org.apache.flink.avro.shaded.org.apache.avro.Schema;
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericData;
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericDatumWriter;
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericRecord;
import org.apache.flink.avro.shaded.org.apache.avro.io.BinaryEncoder;
import org.apache.flink.avro.shaded.org.apache.avro.io.EncoderFactory;
import org.apache.flink.formats.avro.typeutils.AvroSchemaConverter;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.GenericMapData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The {@code joulestream-avro} format: valid records become rows, anything else a dead-letter row
 * with the reason in words and the raw bytes. The string limit is the one the TaskManagers run
 * with (surefire sets it as stack/flink.py does).
 */
class DeadLetterDeserializationSchemaTest {

    private static final RowType TYPE =
            (RowType)
                    DataTypes.ROW(
                                    DataTypes.FIELD("event_id", DataTypes.STRING().notNull()),
                                    DataTypes.FIELD("seq", DataTypes.BIGINT().notNull()),
                                    DataTypes.FIELD("energy_j", DataTypes.DOUBLE()))
                            .notNull()
                            .getLogicalType();
    private static final Schema SCHEMA = AvroSchemaConverter.convertToSchema(TYPE);
    private static final String PREFIX =
            "not an Avro training event (schemas/training_event.avsc): ";

    private DeadLetterDeserializationSchema format;

    @BeforeEach
    void open() throws Exception {
        format =
                new DeadLetterDeserializationSchema(
                        TYPE, new String[] {DeadLetterDecodingFormat.ERROR, DeadLetterDecodingFormat.RAW}, null);
        format.open(null);
    }

    private static byte[] encode(Schema schema, Object... values) throws IOException {
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

    private static byte[] bytes(int... values) {
        byte[] result = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            result[i] = (byte) values[i];
        }
        return result;
    }

    private RowData read(byte[] message) {
        List<RowData> rows = new ArrayList<>();
        format.deserialize(message, new ListCollector<>(rows));
        assertEquals(1, rows.size());
        return rows.get(0);
    }

    /** A dead letter: placeholders in the event's columns, the reason and the bytes after. */
    private static void assertDeadLetter(String reason, byte[] raw, RowData row) {
        assertEquals(5, row.getArity());
        assertEquals("", row.getString(0).toString());
        assertEquals(0L, row.getLong(1));
        assertNull(((GenericRowData) row).getField(2));
        assertEquals(reason, row.getString(3).toString());
        assertArrayEquals(raw, row.isNullAt(4) ? null : row.getBinary(4));
    }

    @Test
    void aValidRecordIsARowWithoutError() throws IOException {
        RowData row = read(encode(SCHEMA, "e-1", 7L, 12.5));
        assertEquals(
                GenericRowData.of(StringData.fromString("e-1"), 7L, 12.5, null, null), row);
    }

    @Test
    void bytesAfterTheRecordAreIgnored() throws IOException {
        // A newer contract version appends fields: this version reads the fields it knows.
        byte[] record = encode(SCHEMA, "e-1", 7L, null);
        byte[] longer = Arrays.copyOf(record, record.length + 3);
        assertEquals(
                GenericRowData.of(StringData.fromString("e-1"), 7L, null, null, null),
                read(longer));
    }

    @Test
    void aTruncatedRecordIsADeadLetter() throws IOException {
        byte[] record = encode(SCHEMA, "e-1", 7L, 12.5);
        byte[] truncated = Arrays.copyOf(record, record.length - 1);
        assertDeadLetter(
                PREFIX + "the record (13 bytes) ends before a whole event was read [EOFException]",
                truncated,
                read(truncated));
    }

    @Test
    void anEmptyRecordIsADeadLetter() {
        assertDeadLetter(
                PREFIX + "the record (0 bytes) ends before a whole event was read [EOFException]",
                new byte[0],
                read(new byte[0]));
    }

    @Test
    void aNullValueIsADeadLetterWithoutBytes() {
        assertDeadLetter("an empty record (null value)", null, read(null));
    }

    @Test
    void undecodableBytesAreADeadLetter() {
        byte[] garbage = bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
        assertDeadLetter(
                PREFIX
                        + "the bytes are not a training event of the Avro contract"
                        + " [InvalidNumberEncodingException Invalid long encoding]",
                garbage,
                read(garbage));
    }

    @Test
    void jsonInsteadOfAvroIsADeadLetter() {
        byte[] json = "{\"event_id\":\"e-1\"}".getBytes(StandardCharsets.UTF_8);
        assertDeadLetter(
                PREFIX
                        + "the bytes are not a training event of the Avro contract"
                        + " [AvroRuntimeException Malformed data. Length is negative: -62]",
                json,
                read(json));
    }

    @Test
    void aRecordOfAnotherSchemaIsADeadLetter() throws IOException {
        // Same first two field types, then a long where the contract has a union of two.
        Schema other =
                new Schema.Parser()
                        .parse(
                                "{\"type\": \"record\", \"name\": \"other\", \"fields\": ["
                                        + "{\"name\": \"name\", \"type\": \"string\"},"
                                        + "{\"name\": \"count\", \"type\": \"long\"},"
                                        + "{\"name\": \"flag\", \"type\": \"long\"}]}");
        byte[] record = encode(other, "x", 1L, 2L);
        assertDeadLetter(
                PREFIX
                        + "the bytes are not a training event of the Avro contract"
                        + " [ArrayIndexOutOfBoundsException Index 2 out of bounds for length 2]",
                record,
                read(record));
    }

    @Test
    void aStringLongerThanTheDecoderAllowsIsADeadLetter() {
        // event_id declares 1,048,577 bytes (zig-zag varint), one more than the limit.
        byte[] record = bytes(0x82, 0x80, 0x80, 0x01);
        assertDeadLetter(
                PREFIX
                        + "the record declares a string, bytes or array longer than the decoder"
                        + " allows [SystemLimitException String length 1048577 exceeds maximum"
                        + " allowed]",
                record,
                read(record));
    }

    @Test
    void aBadRecordDoesNotSpoilTheNextOne() throws IOException {
        read(bytes(0x06, 'e', '-'));
        assertEquals(
                GenericRowData.of(StringData.fromString("e-2"), 8L, 1.0, null, null),
                read(encode(SCHEMA, "e-2", 8L, 1.0)));
    }

    @Test
    void theMetadataColumnsFollowTheOrderTheTableAsksFor() throws Exception {
        DeadLetterDeserializationSchema rawOnly =
                new DeadLetterDeserializationSchema(
                        TYPE, new String[] {DeadLetterDecodingFormat.RAW}, null);
        rawOnly.open(null);
        List<RowData> rows = new ArrayList<>();
        rawOnly.deserialize(bytes(0x01), new ListCollector<>(rows));
        assertEquals(4, rows.get(0).getArity());
        assertArrayEquals(bytes(0x01), rows.get(0).getBinary(3));
    }

    @Test
    void theSingleRecordMethodIsRefused() {
        assertThrows(UnsupportedOperationException.class, () -> format.deserialize(new byte[0]));
    }

    @Test
    void placeholdersAreNullForNullableColumnsAndZeroForNotNullOnes() {
        assertNull(DeadLetterDeserializationSchema.placeholder(DataTypes.STRING().getLogicalType()));
        Map<LogicalType, Object> zeroes =
                Map.of(
                        DataTypes.STRING().notNull().getLogicalType(), StringData.fromString(""),
                        DataTypes.BOOLEAN().notNull().getLogicalType(), false,
                        DataTypes.TINYINT().notNull().getLogicalType(), (byte) 0,
                        DataTypes.SMALLINT().notNull().getLogicalType(), (short) 0,
                        DataTypes.INT().notNull().getLogicalType(), 0,
                        DataTypes.BIGINT().notNull().getLogicalType(), 0L,
                        DataTypes.FLOAT().notNull().getLogicalType(), 0f,
                        DataTypes.DOUBLE().notNull().getLogicalType(), 0d);
        for (Map.Entry<LogicalType, Object> zero : zeroes.entrySet()) {
            assertEquals(
                    zero.getValue(),
                    DeadLetterDeserializationSchema.placeholder(zero.getKey()),
                    zero.getKey().toString());
        }
        assertArrayEquals(
                new byte[0],
                (byte[]) DeadLetterDeserializationSchema.placeholder(
                        DataTypes.BYTES().notNull().getLogicalType()));
        assertEquals(
                0,
                ((GenericArrayData) DeadLetterDeserializationSchema.placeholder(
                                DataTypes.ARRAY(DataTypes.STRING()).notNull().getLogicalType()))
                        .size());
        assertEquals(
                0,
                ((GenericMapData) DeadLetterDeserializationSchema.placeholder(
                                DataTypes.MAP(DataTypes.STRING(), DataTypes.STRING())
                                        .notNull()
                                        .getLogicalType()))
                        .size());
        assertEquals(
                GenericRowData.of(0L, null),
                DeadLetterDeserializationSchema.placeholder(
                        DataTypes.ROW(
                                        DataTypes.FIELD("n", DataTypes.BIGINT().notNull()),
                                        DataTypes.FIELD("s", DataTypes.STRING()))
                                .notNull()
                                .getLogicalType()));
    }

    @Test
    void aNotNullColumnWithoutPlaceholderIsRefusedWithItsType() {
        UnsupportedOperationException error =
                assertThrows(
                        UnsupportedOperationException.class,
                        () ->
                                DeadLetterDeserializationSchema.placeholder(
                                        DataTypes.DATE().notNull().getLogicalType()));
        assertEquals(
                "joulestream-avro has no placeholder for a NOT NULL DATE NOT NULL",
                error.getMessage());
    }

    @Test
    void theReasonIsTheChainOfMessagesCutAtAThousandCharacters() {
        Exception error =
                new IOException("Failed to deserialize", new IllegalStateException("bad union"));
        assertEquals(
                "IOException Failed to deserialize: IllegalStateException bad union",
                DeadLetterDeserializationSchema.reason(error));
        String long_ = "x".repeat(2000);
        assertEquals(
                ("RuntimeException " + long_).substring(0, 1000),
                DeadLetterDeserializationSchema.reason(new RuntimeException(long_)));
    }
}
