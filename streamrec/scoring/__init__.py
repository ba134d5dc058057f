"""The pure scoring stages, free of Flink: retrieval -> filters -> ranking -> ordering.

``pipeline.score_batch`` runs them over a batch of users with one model version;
``popularity`` answers before any model arrives. Offline evaluation, the benchmark
baselines and the streaming job's scoring worker all call these, nothing else scores.
"""
