"""Activity rules, one folder per rule (metadata JSON beside its ``check.py``)."""
