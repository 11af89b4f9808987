package io.joulestream.flink;

import java.io.IOException;
import java.util.Collections;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericDatumReader;
import org.apache.flink.avro.shaded.org.apache.avro.generic.GenericRecord;
import org.apache.flink.avro.shaded.org.apache.avro.io.BinaryDecoder;
import org.apache.flink.avro.shaded.org.apache.avro.io.DecoderFactory;
import org.apache.flink.formats.avro.AvroToRowDataConverters;
import org.apache.flink.formats.avro.typeutils.AvroSchemaConverter;
import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.GenericMapData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.util.Collector;

/**
 * Decodes Avro binary like Flink's {@code avro} format; a record it cannot decode becomes a
 * dead-letter row instead of an exception. Decoding errors are the record's fault, never the
 * job's: they must not restart it.
 *
 * <p>Each record is read by a decoder reset onto its own bytes. (Flink's format reads through a
 * buffering decoder that keeps the unread rest of a record: after one malformed record, or one
 * with fields appended by a newer contract, every later record would be misread.)
 */
final class DeadLetterDeserializationSchema implements DeserializationSchema<RowData> {

    private static final long serialVersionUID = 1L;
    private static final int MAX_REASON_CHARS = 1000;

    private final RowData.FieldGetter[] getters;
    private final RowType physicalType;
    private final AvroToRowDataConverters.AvroToRowDataConverter converter;
    private transient Object[] placeholders;
    private transient GenericDatumReader<GenericRecord> reader;
    private transient BinaryDecoder decoder;
    /** Readers of earlier contract versions, by their number of fields (built when needed). */
    private transient OlderVersion[] olderVersions;
    private final String[] metadataKeys;
    private final TypeInformation<RowData> producedType;

    DeadLetterDeserializationSchema(
            RowType physicalType,
            String[] metadataKeys,
            TypeInformation<RowData> producedType) {
        this.converter = AvroToRowDataConverters.createRowConverter(physicalType);
        this.getters = new RowData.FieldGetter[physicalType.getFieldCount()];
        for (int i = 0; i < getters.length; i++) {
            getters[i] = RowData.createFieldGetter(physicalType.getTypeAt(i), i);
        }
        this.physicalType = physicalType;
        this.metadataKeys = metadataKeys;
        this.producedType = producedType;
    }

    @Override
    public void open(InitializationContext context) throws Exception {
        reader = new GenericDatumReader<>(AvroSchemaConverter.convertToSchema(physicalType));
        placeholders = new Object[getters.length];
        for (int i = 0; i < getters.length; i++) {
            placeholders[i] = placeholder(physicalType.getTypeAt(i));
        }
    }

    @Override
    public RowData deserialize(byte[] message) throws IOException {
        throw new UnsupportedOperationException("use deserialize(byte[], Collector)");
    }

    @Override
    public void deserialize(byte[] message, Collector<RowData> out) {
        if (message == null) {
            out.collect(deadLetter("an empty record (null value)", null));
            return;
        }
        RowData decoded;
        try {
            decoder = DecoderFactory.get().binaryDecoder(message, decoder);
            decoded = (RowData) converter.convert(reader.read(null, decoder));
        } catch (Exception e) {
            decoded = olderVersion(message);
            if (decoded == null) {
                out.collect(deadLetter(undecodable(e, message.length), message));
                return;
            }
        }
        if (decoded == null) {
            out.collect(deadLetter("the record decoded to nothing", message));
            return;
        }
        GenericRowData row = new GenericRowData(decoded.getRowKind(), arity());
        for (int i = 0; i < getters.length; i++) {
            row.setField(i, getters[i].getFieldOrNull(decoded));
        }
        out.collect(row);
    }

    /**
     * The record as an event of an earlier contract version: fields are only ever appended,
     * nullable, so an earlier event is a prefix of the fields with the rest null. Tried only
     * when the whole contract cannot be read, newest first; the record must be read to its
     * last byte, so a damaged record stays a dead letter.
     */
    private RowData olderVersion(byte[] message) {
        int fields = physicalType.getFieldCount();
        if (olderVersions == null) {
            olderVersions = new OlderVersion[fields];
        }
        for (int count = fields - 1; count > 0; count--) {
            if (!physicalType.getTypeAt(count).isNullable()) {
                return null;
            }
            if (olderVersions[count] == null) {
                olderVersions[count] = new OlderVersion(physicalType, count);
            }
            RowData row = olderVersions[count].read(message, fields);
            if (row != null) {
                return row;
            }
        }
        return null;
    }

    /** A reader of the first {@code count} fields of the contract. */
    private static final class OlderVersion {
        private final GenericDatumReader<GenericRecord> reader;
        private final AvroToRowDataConverters.AvroToRowDataConverter converter;
        private final RowData.FieldGetter[] getters;

        OlderVersion(RowType full, int count) {
            RowType prefix = new RowType(full.isNullable(), full.getFields().subList(0, count));
            reader = new GenericDatumReader<>(AvroSchemaConverter.convertToSchema(prefix));
            converter = AvroToRowDataConverters.createRowConverter(prefix);
            getters = new RowData.FieldGetter[count];
            for (int i = 0; i < count; i++) {
                getters[i] = RowData.createFieldGetter(prefix.getTypeAt(i), i);
            }
        }

        RowData read(byte[] message, int fields) {
            try {
                BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(message, null);
                RowData prefix = (RowData) converter.convert(reader.read(null, decoder));
                if (prefix == null || !decoder.isEnd()) {
                    return null;
                }
                GenericRowData row = new GenericRowData(prefix.getRowKind(), fields);
                for (int i = 0; i < getters.length; i++) {
                    row.setField(i, getters[i].getFieldOrNull(prefix));
                }
                return row;
            } catch (Exception e) {
                return null;
            }
        }
    }

    private int arity() {
        return getters.length + metadataKeys.length;
    }

    /**
     * A dead letter's value for a column: null where the column is nullable, else a zero value
     * of its type, because the planner's code trusts NOT NULL columns never to be null.
     */
    static Object placeholder(LogicalType type) {
        if (type.isNullable()) {
            return null;
        }
        switch (type.getTypeRoot()) {
            case CHAR:
            case VARCHAR:
                return StringData.fromString("");
            case BOOLEAN:
                return false;
            case TINYINT:
                return (byte) 0;
            case SMALLINT:
                return (short) 0;
            case INTEGER:
                return 0;
            case BIGINT:
                return 0L;
            case FLOAT:
                return 0f;
            case DOUBLE:
                return 0d;
            case BINARY:
            case VARBINARY:
                return new byte[0];
            case ARRAY:
                return new GenericArrayData(new Object[0]);
            case MAP:
                return new GenericMapData(Collections.emptyMap());
            case ROW:
                RowType row = (RowType) type;
                GenericRowData value = new GenericRowData(row.getFieldCount());
                for (int i = 0; i < row.getFieldCount(); i++) {
                    value.setField(i, placeholder(row.getTypeAt(i)));
                }
                return value;
            default:
                throw new UnsupportedOperationException(
                        "joulestream-avro has no placeholder for a NOT NULL " + type);
        }
    }

    private RowData deadLetter(String reason, byte[] raw) {
        GenericRowData row = new GenericRowData(arity());
        for (int i = 0; i < getters.length; i++) {
            row.setField(i, placeholders[i]);
        }
        for (int i = 0; i < metadataKeys.length; i++) {
            Object value =
                    DeadLetterDecodingFormat.ERROR.equals(metadataKeys[i])
                            ? StringData.fromString(reason)
                            : raw;
            row.setField(getters.length + i, value);
        }
        return row;
    }

    /**
     * Why a record is not an event of the contract, for a person: what went wrong in words,
     * then the decoder's own message.
     */
    static String undecodable(Throwable error, int sizeBytes) {
        Throwable root = error;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String what;
        if (root instanceof java.io.EOFException) {
            what = "the record (" + sizeBytes + " bytes) ends before a whole event was read";
        } else if (root instanceof org.apache.flink.avro.shaded.org.apache.avro.SystemLimitException) {
            what = "the record declares a string, bytes or array longer than the decoder allows";
        } else {
            what = "the bytes are not a training event of the Avro contract";
        }
        return "not an Avro training event (schemas/training_event.avsc): " + what + " ["
                + reason(error) + "]";
    }

    /** The exception chain's messages, innermost last: "Failed to deserialize…: EOF…". */
    static String reason(Throwable error) {
        StringBuilder text = new StringBuilder();
        for (Throwable e = error; e != null; e = e.getCause()) {
            if (text.length() > 0) {
                text.append(": ");
            }
            text.append(e.getClass().getSimpleName());
            if (e.getMessage() != null) {
                text.append(" ").append(e.getMessage());
            }
            if (e.getCause() == e) {
                break;
            }
        }
        return text.length() > MAX_REASON_CHARS ? text.substring(0, MAX_REASON_CHARS) : text.toString();
    }

    @Override
    public boolean isEndOfStream(RowData nextElement) {
        return false;
    }

    @Override
    public TypeInformation<RowData> getProducedType() {
        return producedType;
    }
}
