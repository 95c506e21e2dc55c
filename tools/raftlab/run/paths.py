"""Paths as the user should see them."""
import os


def shown_path(path):
    """Relative to the working directory when under it, else absolute."""
    rel = os.path.relpath(path)
    return os.path.abspath(path) if rel.startswith("..") else rel
