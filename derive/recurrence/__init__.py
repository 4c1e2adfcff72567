"""Backprop through time for an Elman RNN and an LSTM cell: gradients found from the forward pass, proved."""
