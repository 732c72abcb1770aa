"""scenegan: animate a still landscape photo into a short clip, grey or colour."""

__version__ = "0.1.0"
