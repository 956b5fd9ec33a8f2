"""Activity rule diagnostic_settings_deleted."""
