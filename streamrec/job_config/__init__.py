"""The recommend job's configuration: every setting and default once (``settings``), and the
flags that set them (``flags``). A leaf: the job, its Flink functions, the scoring worker,
the CLI, the benchmark and the stack read it, and it imports none of them."""
