"""Idle rule unassociated_public_ip."""
