package io.joulestream.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.math.BigDecimal;
import java.time.LocalDateTime;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TimeZone;
import org.apache.flink.connector.mongodb.table.converter.RowDataToBsonConverters;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.GenericMapData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.RowType;
import org.bson.BsonArray;
import org.bson.BsonBinary;
import org.bson.BsonBoolean;
import org.bson.BsonDateTime;
import org.bson.BsonDecimal128;
import org.bson.BsonDocument;
import org.bson.BsonDouble;
import org.bson.BsonInt32;
import org.bson.BsonInt64;
import org.bson.BsonNull;
import org.bson.BsonString;
import org.bson.types.Decimal128;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class RowToBsonTest {

    /** Every type the job's sink tables use, nested as they are, and the rest of the mapping. */
    private static final RowType TYPE =
            rowType(
                    DataTypes.FIELD("_id", DataTypes.STRING().notNull()),
                    DataTypes.FIELD("version", DataTypes.BIGINT().notNull()),
                    DataTypes.FIELD("kafka_partition", DataTypes.INT()),
                    DataTypes.FIELD("energy_j", DataTypes.DOUBLE()),
                    DataTypes.FIELD("intensity_fallback", DataTypes.BOOLEAN()),
                    DataTypes.FIELD("price", DataTypes.DECIMAL(10, 3)),
                    DataTypes.FIELD("raw_bytes", DataTypes.BYTES()),
                    DataTypes.FIELD("window_start", DataTypes.TIMESTAMP(3)),
                    DataTypes.FIELD("finished_at", DataTypes.TIMESTAMP_LTZ(3)),
                    DataTypes.FIELD("gpu_methods", DataTypes.ARRAY(DataTypes.STRING())),
                    DataTypes.FIELD(
                            "hyperparameters",
                            DataTypes.MAP(DataTypes.STRING(), DataTypes.DOUBLE())),
                    DataTypes.FIELD(
                            "gpu",
                            DataTypes.ROW(
                                    DataTypes.FIELD("device", DataTypes.INT().notNull()),
                                    DataTypes.FIELD("energy_j", DataTypes.DOUBLE()))),
                    DataTypes.FIELD("note", DataTypes.CHAR(2)),
                    DataTypes.FIELD("missing", DataTypes.STRING()));

    private static final long TS_MS = 1_717_243_200_123L; // 2024-06-01T12:00:00.123Z

    private TimeZone zone;

    @BeforeEach
    void utc() {
        // TIMESTAMP (without zone) is read in the JVM's zone, as the TaskManagers run: UTC.
        zone = TimeZone.getDefault();
        TimeZone.setDefault(TimeZone.getTimeZone("UTC"));
    }

    @AfterEach
    void restore() {
        TimeZone.setDefault(zone);
    }

    private static RowType rowType(DataTypes.Field... fields) {
        return (RowType) DataTypes.ROW(fields).notNull().getLogicalType();
    }

    private static RowData sample() {
        Map<StringData, Double> hyperparameters = new LinkedHashMap<>();
        hyperparameters.put(StringData.fromString("lr"), 0.001);
        hyperparameters.put(StringData.fromString("dropout"), null);
        return GenericRowData.of(
                StringData.fromString("run-1/2024-06-01T12:00:00Z"),
                42L,
                3,
                1234.5,
                true,
                DecimalData.fromBigDecimal(new BigDecimal("12.345"), 10, 3),
                new byte[] {1, 2, 3},
                TimestampData.fromLocalDateTime(LocalDateTime.of(2024, 6, 1, 12, 0, 0, 123_000_000)),
                TimestampData.fromEpochMillis(TS_MS),
                new GenericArrayData(new Object[] {StringData.fromString("nvml"), null}),
                new GenericMapData(hyperparameters),
                GenericRowData.of(0, 99.5),
                StringData.fromString("ok"),
                null);
    }

    @Test
    void eachColumnBecomesTheBsonValueOfItsType() {
        BsonDocument expected =
                new BsonDocument()
                        .append("_id", new BsonString("run-1/2024-06-01T12:00:00Z"))
                        .append("version", new BsonInt64(42))
                        .append("kafka_partition", new BsonInt32(3))
                        .append("energy_j", new BsonDouble(1234.5))
                        .append("intensity_fallback", BsonBoolean.TRUE)
                        .append("price", new BsonDecimal128(Decimal128.parse("12.345")))
                        .append("raw_bytes", new BsonBinary(new byte[] {1, 2, 3}))
                        .append("window_start", new BsonDateTime(TS_MS))
                        .append("finished_at", new BsonDateTime(TS_MS))
                        .append(
                                "gpu_methods",
                                new BsonArray(
                                        java.util.List.of(new BsonString("nvml"), BsonNull.VALUE)))
                        .append(
                                "hyperparameters",
                                new BsonDocument("lr", new BsonDouble(0.001))
                                        .append("dropout", BsonNull.VALUE))
                        .append(
                                "gpu",
                                new BsonDocument("device", new BsonInt32(0))
                                        .append("energy_j", new BsonDouble(99.5)))
                        .append("note", new BsonString("ok"))
                        .append("missing", BsonNull.VALUE);
        BsonDocument actual = new RowToBson(TYPE).convert(sample());
        assertEquals(expected, actual);
        assertEquals(expected.keySet().toString(), actual.keySet().toString()); // column order
    }

    @Test
    void theDocumentIsTheOneTheConnectorsConverterMade() {
        // The connector's own converter (internal to it, used here only as the reference).
        assertEquals(
                RowDataToBsonConverters.createConverter(TYPE).convert(sample()),
                new RowToBson(TYPE).convert(sample()));
    }

    @Test
    void textIsStoredAsTextEvenWhenItLooksLikeExtendedJson() {
        RowType type = rowType(DataTypes.FIELD("note", DataTypes.STRING()));
        String text = "{\"_value\": {\"$numberLong\": \"5\"}}";
        assertEquals(
                new BsonDocument("note", new BsonString(text)),
                new RowToBson(type).convert(GenericRowData.of(StringData.fromString(text))));
    }

    @Test
    void aTypeWithoutBsonMappingIsRefusedWhenTheConverterIsMade() {
        for (DataType unsupported :
                new DataType[] {
                    DataTypes.FLOAT(), DataTypes.SMALLINT(), DataTypes.TINYINT(), DataTypes.DATE()
                }) {
            RowType type = rowType(DataTypes.FIELD("x", unsupported));
            UnsupportedOperationException error =
                    assertThrows(UnsupportedOperationException.class, () -> new RowToBson(type));
            assertEquals(
                    "joulestream-mongodb cannot store a column of type "
                            + unsupported.getLogicalType(),
                    error.getMessage());
        }
    }

    @Test
    void aMapWithKeysOtherThanTextIsRefused() {
        RowType type =
                rowType(DataTypes.FIELD("m", DataTypes.MAP(DataTypes.INT(), DataTypes.STRING())));
        UnsupportedOperationException error =
                assertThrows(UnsupportedOperationException.class, () -> new RowToBson(type));
        assertEquals(
                "joulestream-mongodb stores a MAP as a document, whose keys are text: MAP<INT, STRING>",
                error.getMessage());
    }
}
