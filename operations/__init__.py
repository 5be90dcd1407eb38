"""Operator commands for a deployed stack (run from a workstation, not in Lambda)."""
