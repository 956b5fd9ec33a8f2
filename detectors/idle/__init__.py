"""Idle-resource detectors (pure). Entry point: :func:`detectors.idle.detect.detect`."""
