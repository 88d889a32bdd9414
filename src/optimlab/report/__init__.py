"""Pictures and pages: static PNGs, animated GIFs and self-contained interactive HTML."""
