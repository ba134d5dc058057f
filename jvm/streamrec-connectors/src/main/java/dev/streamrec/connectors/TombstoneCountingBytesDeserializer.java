package dev.streamrec.connectors;

import org.apache.flink.api.common.serialization.DeserializationSchema;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.kafka.shaded.org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.SimpleCounter;
import org.apache.flink.util.Collector;

/**
 * A Kafka record's value as raw bytes; a null value (a tombstone) is skipped and counted.
 *
 * <p>Emits exactly what PyFlink's {@code ByteArraySchema} emits for every other record
 * (same produced type, so Python operators still receive {@code bytes}). The tombstone
 * check runs here in the source reader, so it costs Python nothing; the count is the
 * source operator's metric {@value #METRIC} (in the reader's {@code deserializer} group).
 */
public final class TombstoneCountingBytesDeserializer
        implements KafkaRecordDeserializationSchema<byte[]> {

    private static final long serialVersionUID = 1L;

    public static final String METRIC = "tombstonesSkipped";

    // Transient: each source reader registers its own counter in open().
    private transient Counter tombstones;

    @Override
    public void open(DeserializationSchema.InitializationContext context) {
        tombstones = context.getMetricGroup().counter(METRIC);
    }

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<byte[]> out) {
        byte[] value = record.value();
        if (value == null) {
            counter().inc();
            return;
        }
        out.collect(value);
    }

    @Override
    public TypeInformation<byte[]> getProducedType() {
        return PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO;
    }

    /** Tombstones skipped by this instance so far. */
    public long tombstonesSkipped() {
        return counter().getCount();
    }

    // A caller that never opened the schema still counts, into an unregistered counter.
    private Counter counter() {
        if (tombstones == null) {
            tombstones = new SimpleCounter();
        }
        return tombstones;
    }
}
