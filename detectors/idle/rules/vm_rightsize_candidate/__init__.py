"""Idle rule vm_rightsize_candidate."""
