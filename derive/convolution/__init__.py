"""Convolution and pooling: the backward pass found from the forward pass, proved three ways."""
