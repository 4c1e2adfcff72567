"""Independent hand-written backprop routes: NumPy only, nothing from derive/ (a test enforces it)."""
