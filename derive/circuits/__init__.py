"""cs231n's computational graphs (circuits): parsed, checked gate by gate, drawn, and the network's graph."""
