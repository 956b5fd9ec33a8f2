"""Vigil's kernel: the finding model, the state store, strict config bases, the cost frame, time
utilities, and the storage and source protocols. Every other package may import it; it imports none of them.
"""
