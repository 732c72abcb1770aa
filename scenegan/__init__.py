"""scenegan: animate a still landscape photo into a short grayscale clip."""

__version__ = "0.1.0"
