"""The write-up: a document model and its LaTeX, Markdown and HTML renderers, and the files they go to."""
