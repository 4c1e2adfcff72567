"""Checking what a person wrote: their function, their formula or document, and the mistake catalogue that names an error."""
