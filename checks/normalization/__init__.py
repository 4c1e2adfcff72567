"""The normalisation layers' numbers: three routes at cs231n's point, and a person's layer checked."""
