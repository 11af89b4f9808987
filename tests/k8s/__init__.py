"""Offline checks of ``k8s/flink-operator``: rendering, schemas and drift (``test_k8s.py``)."""
