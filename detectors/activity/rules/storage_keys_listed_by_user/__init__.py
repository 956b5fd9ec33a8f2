"""Activity rule storage_keys_listed_by_user."""
