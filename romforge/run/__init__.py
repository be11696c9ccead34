"""The run: its core budget, the results its builds share, progress reporting."""
