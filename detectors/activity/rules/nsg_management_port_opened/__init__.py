"""Activity rule nsg_management_port_opened."""
