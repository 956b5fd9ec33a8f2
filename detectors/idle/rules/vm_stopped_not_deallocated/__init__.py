"""Idle rule vm_stopped_not_deallocated."""
