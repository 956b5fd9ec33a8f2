"""Idle rule ml_compute_instance_idle."""
