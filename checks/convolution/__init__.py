"""Numbers for convolution and pooling: a hand-written NumPy route, the three-route check, a person's code."""
