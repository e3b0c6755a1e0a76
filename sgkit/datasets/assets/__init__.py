"""Data files bundled with :mod:`sgkit.datasets` (read with :mod:`importlib.resources`)."""
