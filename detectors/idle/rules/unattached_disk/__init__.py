"""Idle rule unattached_disk."""
