"""Numbers for the attention block and the embedding: a hand-written NumPy backward, finite
differences, the three-route verdict, and a person's own backward checked."""
