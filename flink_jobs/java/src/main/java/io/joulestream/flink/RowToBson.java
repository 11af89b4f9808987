package io.joulestream.flink;

import java.util.ArrayList;
import java.util.List;
import org.apache.flink.table.data.ArrayData;
import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.MapData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.types.logical.ArrayType;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.LogicalTypeFamily;
import org.apache.flink.table.types.logical.LogicalTypeRoot;
import org.apache.flink.table.types.logical.MapType;
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
import org.bson.BsonValue;
import org.bson.types.Decimal128;

/**
 * A table row as a BSON document, field by field in column order, with Flink's public row
 * types and the MongoDB driver's BSON types only.
 *
 * <p>The mapping is the one of the MongoDB connector's own converter (1.1.0-1.18), which the sink
 * used before and which is internal to the connector: BOOLEAN, INT, BIGINT, DOUBLE and DECIMAL as
 * the BSON number of that width, text as a string, bytes as binary, timestamps as a BSON date,
 * ROW and string-keyed MAP as embedded documents, ARRAY as an array, SQL NULL as BSON null. A
 * type it does not map (TINYINT, SMALLINT, FLOAT, DATE, TIME, MULTISET, RAW) fails when the
 * converter is made, that is when the sink starts, not at the first row. One difference: text is
 * always stored as that text, where the connector read a text of the form
 * {@code {"_value": ...}} as MongoDB Extended JSON (its own encoding of BSON types Flink has no
 * type for, which this job never produces).
 */
final class RowToBson {

    /** One value of a column's internal data structure as BSON. */
    private interface Converter {
        BsonValue convert(Object value);
    }

    private final Converter row;

    RowToBson(RowType type) {
        this.row = nullSafe(type);
    }

    BsonDocument convert(RowData value) {
        return (BsonDocument) row.convert(value);
    }

    private static Converter nullSafe(LogicalType type) {
        Converter converter = create(type);
        return value -> {
            if (value == null || type.is(LogicalTypeRoot.NULL)) {
                if (!type.isNullable()) {
                    // Not reached for a column: the planner enforces NOT NULL before the sink
                    // (table.exec.sink.not-null-enforcer), and a NOT NULL column's getter does
                    // not look for null.
                    throw new IllegalArgumentException(
                            "a null value for the NOT NULL column type " + type);
                }
                return BsonNull.VALUE;
            }
            return converter.convert(value);
        };
    }

    private static Converter create(LogicalType type) {
        switch (type.getTypeRoot()) {
            case NULL:
                return value -> BsonNull.VALUE;
            case BOOLEAN:
                return value -> new BsonBoolean((boolean) value);
            case INTEGER:
            case INTERVAL_YEAR_MONTH:
                return value -> new BsonInt32((int) value);
            case BIGINT:
            case INTERVAL_DAY_TIME:
                return value -> new BsonInt64((long) value);
            case DOUBLE:
                return value -> new BsonDouble((double) value);
            case DECIMAL:
                return value ->
                        new BsonDecimal128(new Decimal128(((DecimalData) value).toBigDecimal()));
            case CHAR:
            case VARCHAR:
                return value -> new BsonString(value.toString());
            case BINARY:
            case VARBINARY:
                return value -> new BsonBinary((byte[]) value);
            case TIMESTAMP_WITHOUT_TIME_ZONE:
                // Wall-clock time read in the JVM's default time zone, as the connector does;
                // the job's TaskManagers run in UTC, the session time zone of its statements.
                return value -> new BsonDateTime(((TimestampData) value).toTimestamp().getTime());
            case TIMESTAMP_WITH_LOCAL_TIME_ZONE:
                return value -> new BsonDateTime(((TimestampData) value).getMillisecond());
            case ROW:
                return rowConverter((RowType) type);
            case ARRAY:
                return arrayConverter((ArrayType) type);
            case MAP:
                return mapConverter((MapType) type);
            default:
                throw new UnsupportedOperationException(
                        "joulestream-mongodb cannot store a column of type " + type);
        }
    }

    private static Converter rowConverter(RowType type) {
        int count = type.getFieldCount();
        String[] names = type.getFieldNames().toArray(new String[0]);
        RowData.FieldGetter[] getters = new RowData.FieldGetter[count];
        Converter[] converters = new Converter[count];
        for (int i = 0; i < count; i++) {
            getters[i] = RowData.createFieldGetter(type.getTypeAt(i), i);
            converters[i] = nullSafe(type.getTypeAt(i));
        }
        return value -> {
            RowData row = (RowData) value;
            BsonDocument document = new BsonDocument();
            for (int i = 0; i < count; i++) {
                document.append(names[i], converters[i].convert(getters[i].getFieldOrNull(row)));
            }
            return document;
        };
    }

    private static Converter arrayConverter(ArrayType type) {
        ArrayData.ElementGetter getter = ArrayData.createElementGetter(type.getElementType());
        Converter element = nullSafe(type.getElementType());
        return value -> {
            ArrayData array = (ArrayData) value;
            List<BsonValue> values = new ArrayList<>(array.size());
            for (int i = 0; i < array.size(); i++) {
                values.add(element.convert(getter.getElementOrNull(array, i)));
            }
            return new BsonArray(values);
        };
    }

    private static Converter mapConverter(MapType type) {
        if (!type.getKeyType().is(LogicalTypeFamily.CHARACTER_STRING)) {
            throw new UnsupportedOperationException(
                    "joulestream-mongodb stores a MAP as a document, whose keys are text: "
                            + type.asSummaryString());
        }
        ArrayData.ElementGetter getter = ArrayData.createElementGetter(type.getValueType());
        Converter entry = nullSafe(type.getValueType());
        return value -> {
            MapData map = (MapData) value;
            ArrayData keys = map.keyArray();
            ArrayData values = map.valueArray();
            BsonDocument document = new BsonDocument();
            for (int i = 0; i < map.size(); i++) {
                document.append(
                        keys.getString(i).toString(),
                        entry.convert(getter.getElementOrNull(values, i)));
            }
            return document;
        };
    }
}
