"""Numbers for the recurrent layers: a hand-written NumPy route, finite differences, the three-route verdict."""
