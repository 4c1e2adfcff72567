"""Reading what people write: NumPy-like expressions, LaTeX formulas and the source of their functions."""
