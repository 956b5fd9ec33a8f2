"""Activity rule ml_workspace_public_access_enabled."""
