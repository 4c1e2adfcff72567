"""Data and parameter files read from the command line, with their limits."""
