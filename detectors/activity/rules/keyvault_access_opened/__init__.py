"""Activity rule keyvault_access_opened."""
