"""Vigil benchmarks: one package per benchmark under bench/<name>/ (see bench/README.md)."""
