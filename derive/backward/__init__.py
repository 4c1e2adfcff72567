"""The backward pass found: the entrywise chain rule, the matrix form searched for, the derivation of a network."""
