"""Idle rule ml_cluster_idle_nodes."""
