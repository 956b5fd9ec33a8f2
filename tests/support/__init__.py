"""Shared test support: emulator harnesses and local servers (see README in each module)."""
