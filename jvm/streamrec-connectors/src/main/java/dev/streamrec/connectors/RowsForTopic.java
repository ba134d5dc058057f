package dev.streamrec.connectors;

import org.apache.flink.api.common.functions.FlatMapFunction;
import org.apache.flink.types.Row;
import org.apache.flink.util.Collector;

/**
 * The rows bound for one topic, out of the recommend operator's {@code (key, value, topic)}
 * rows, as {@code (key, value)}.
 *
 * <p>The operator emits its recommendations and its serving-features records on one output
 * (PyFlink 2.3 wires no side output of a keyed broadcast operator in thread mode); this
 * splits them in the JVM, before each goes to its own Kafka sink, so the split costs Python
 * nothing and the Table plan of the recommendations sink stays as it was (its uid is in
 * savepoints).
 */
public final class RowsForTopic implements FlatMapFunction<Row, Row> {

    private static final long serialVersionUID = 1L;

    private final String topic;

    public RowsForTopic(String topic) {
        this.topic = topic;
    }

    @Override
    public void flatMap(Row row, Collector<Row> out) {
        boolean named = row.getFieldNames(false) != null;
        Object target = named ? row.getField("topic") : row.getField(2);
        if (topic.equals(target)) {
            Object key = named ? row.getField("user_id") : row.getField(0);
            Object value = named ? row.getField("value") : row.getField(1);
            out.collect(Row.of(key, value));
        }
    }
}
