"""What a network is: the spec, its size limits, the activation and cost tables, the notation, and its symbols."""
