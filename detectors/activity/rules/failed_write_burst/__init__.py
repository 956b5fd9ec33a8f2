"""Activity rule failed_write_burst."""
