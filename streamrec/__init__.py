"""streamrec: real-time personalization on Apache Flink."""
