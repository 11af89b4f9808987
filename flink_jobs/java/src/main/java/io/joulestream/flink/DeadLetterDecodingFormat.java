package io.joulestream.flink;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.connector.ChangelogMode;
import org.apache.flink.table.connector.format.DecodingFormat;
import org.apache.flink.table.connector.source.DynamicTableSource;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.DataType;
import org.apache.flink.table.types.logical.RowType;
import org.apache.flink.table.types.utils.DataTypeUtils;

/** Avro binary decoding with the readable metadata {@code error} and {@code raw}. */
final class DeadLetterDecodingFormat implements DecodingFormat<DeserializationSchema<RowData>> {

    static final String ERROR = "error";
    static final String RAW = "raw";

    private List<String> metadataKeys = new ArrayList<>();

    @Override
    public DeserializationSchema<RowData> createRuntimeDecoder(
            DynamicTableSource.Context context, DataType physicalDataType) {
        Map<String, DataType> readable = listReadableMetadata();
        List<DataTypes.Field> extra = new ArrayList<>();
        for (String key : metadataKeys) {
            extra.add(DataTypes.FIELD(key, readable.get(key)));
        }
        DataType produced = DataTypeUtils.appendRowFields(physicalDataType, extra);
        TypeInformation<RowData> producedType = context.createTypeInformation(produced);
        return new DeadLetterDeserializationSchema(
                (RowType) physicalDataType.getLogicalType(),
                metadataKeys.toArray(new String[0]),
                producedType);
    }

    @Override
    public ChangelogMode getChangelogMode() {
        return ChangelogMode.insertOnly();
    }

    @Override
    public Map<String, DataType> listReadableMetadata() {
        Map<String, DataType> metadata = new LinkedHashMap<>();
        metadata.put(ERROR, DataTypes.STRING().nullable());
        metadata.put(RAW, DataTypes.BYTES().nullable());
        return metadata;
    }

    @Override
    public void applyReadableMetadata(List<String> metadataKeys) {
        this.metadataKeys = new ArrayList<>(metadataKeys);
    }
}
