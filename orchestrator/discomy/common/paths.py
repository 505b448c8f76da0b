"""Paths made absolute where they enter: the command line and the config file.

A relative path is relative to something only at the boundary (the shell's
working directory for an option, the config file's directory for a key);
anything later (rpmbuild's ``_topdir``, a campaign's recorded workdir, the
daemon, whose working directory is ``/``) would read it against another
directory. So options and config keys are made absolute as they are read, and
the parts below refuse relative ones.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union


def absolute(value: Union[str, os.PathLike], base: Union[str, os.PathLike, None] = None) -> Path:
    """``value`` as an absolute, normalised path (``~`` expanded), relative to ``base``
    (default: the working directory). Symlinks are kept as they are."""
    path = Path(os.path.expanduser(os.fspath(value)))
    if not path.is_absolute():
        path = Path(base if base is not None else os.getcwd()) / path
    return Path(os.path.normpath(path))


def is_url(value) -> bool:
    return isinstance(value, str) and "://" in value


def absolute_location(value: str, base=None) -> str:
    """A repository given as a directory or a URL: the directory made absolute, a URL
    left alone."""
    return value if is_url(value) else str(absolute(value, base))


# argparse types: options are absolute from the moment they are parsed
def path_option(value: str) -> Path:
    return absolute(value)


def location_option(value: str) -> str:
    return absolute_location(value)
