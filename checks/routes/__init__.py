"""The numeric routes and their comparison: the derived formulas lambdified, finite differences, the three-route verdict."""
