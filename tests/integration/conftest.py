"""koji's upstream tree for the real-kojihub and real-kojid tests.

``../shared/koji/koji-*.tar.gz`` (see its README) is unpacked once per test run
into a temporary directory; ``DISCOMY_KOJI_SRC`` may name another unpacked tree.
Neither there is a failure, not a skip: these tests are part of ``make test``.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARBALLS = ROOT.parent / "shared" / "koji"


def unpack_koji(dest: Path) -> Path:
    """The koji tree in ``DISCOMY_KOJI_SRC``, or the shared tarball unpacked under ``dest``."""
    named = os.environ.get("DISCOMY_KOJI_SRC")
    if named:
        tree = Path(named)
        if not (tree / "kojihub").is_dir():
            pytest.fail(f"DISCOMY_KOJI_SRC={named} is not a koji source tree (no kojihub/)")
        return tree
    tarballs = sorted(TARBALLS.glob("koji-*.tar.gz"))
    if not tarballs:
        pytest.fail(f"koji's upstream tree is missing: no koji-*.tar.gz in {TARBALLS} "
                    f"(or set DISCOMY_KOJI_SRC to an unpacked tree)")
    # the "data" filter (no absolute paths, links out or devices) where this Python has it
    safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    with tarfile.open(tarballs[-1]) as tar:
        tar.extractall(dest, **safe)
    trees = [p for p in dest.iterdir() if (p / "kojihub").is_dir()]
    if len(trees) != 1:
        pytest.fail(f"{tarballs[-1]} does not hold one koji tree with kojihub/")
    return trees[0]


@pytest.fixture(scope="session")
def koji_src(tmp_path_factory) -> str:
    return str(unpack_koji(tmp_path_factory.mktemp("koji-src")))
