"""Numeric side: an independent NumPy backprop, finite differences and verification."""
