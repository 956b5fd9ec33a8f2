"""Activity rule policy_assignment_deleted."""
