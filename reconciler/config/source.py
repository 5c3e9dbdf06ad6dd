"""Which config files may be read at all: a symlink may not lead out of the working tree.

A pull request can add ``webhooks.yaml`` as a symlink to ``/etc/passwd``,
``/proc/self/environ`` or a key file; a CI job that validates it would then print that
file back as errors. So the config file must lie inside the working tree when its path
goes through a symlink:

- the working tree is the git work tree that holds the path as given (the nearest
  directory above it with a ``.git``), else the current directory;
- a path inside the working tree must resolve (every symlink followed) inside it too;
- a path outside it may be read only when it is no symlink itself: pointing ``-f`` at a
  file by its own path is the user's explicit choice (and no message quotes any file's
  content, see ``reconciler.config.loader``).
"""

from __future__ import annotations

import os
from pathlib import Path


def working_tree(path: Path) -> Path:
    """The git work tree holding ``path`` (not following symlinks), else the current
    directory."""
    given = Path(os.path.abspath(path))
    for folder in given.parents:
        if (folder / ".git").exists():
            return folder
    try:
        return Path.cwd()
    except OSError:  # the current directory was removed: the file's own directory
        return given.parent


def symlink_problem(path: Path) -> str | None:
    """Why the config at ``path`` may not be read (a symlink out of the working tree)."""
    given = Path(os.path.abspath(path))
    root = working_tree(given)
    inside = given == root or root in given.parents
    if not inside and not given.is_symlink():
        return None
    try:
        real, real_root = given.resolve(strict=False), root.resolve(strict=False)
    except (OSError, RuntimeError):  # a symlink loop
        return "the config file is a symlink that cannot be resolved"
    if real == real_root or real_root in real.parents:
        return None
    return (f"the config file is a symlink to a file outside the working tree "
            f"({root}); it is not read. Copy the file into the tree, or point -f at it "
            "by its own path")
