"""A network as a program of layers: built once from the spec, read by one interpreter per target."""
