"""Activity rule privileged_role_assignment."""
