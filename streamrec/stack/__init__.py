"""The local stack: real Kafka, Cassandra, Flink and MLflow servers on loopback."""
