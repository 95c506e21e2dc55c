"""The lab's root, and paths as the user should see them."""
import os

# tools/raftlab/run/paths.py: three directories below the lab's root.
LAB_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def shown_path(path: str) -> str:
    """Relative to the working directory when under it, else absolute."""
    rel = os.path.relpath(path)
    return os.path.abspath(path) if rel.startswith("..") else rel
