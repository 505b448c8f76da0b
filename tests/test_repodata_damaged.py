"""Damaged rpm-md: whatever is wrong with primary, filelists or repomd.xml, loading gives
one RepodataError line (or, when the damage still parses, a graph), never another
exception and never a hang.

The repositories are the example packages built with rpmbuild and indexed with
createrepo_c, plus a source package whose file BuildRequires (/usr/share/...) makes the
binary repository's filelists needed, so they are read too.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from discomy.planning import repodata
from discomy.planning.repodata import RepodataError, load_graph
from discomy.orchestration.rpmtools import createrepo, rpmbuild

NEEDS_FILE_SPEC = """\
Name:           needsfile
Version:        1
Release:        1%{?dist}
Summary:        Build-requires a file that only the filelists list
License:        MIT
BuildArch:      noarch
BuildRequires:  /usr/share/parsekit/VERSION

%description
Test package.

%files

%changelog
* Sun Nov 22 2026 Discomy <discomy@example.org> - 1-1
- Test
"""

# a hang is a failure too: the thread method ends the run even inside C code
pytestmark = pytest.mark.timeout(300, method="thread")

PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def pristine(example_repos, tmp_path_factory):
    """source, binary and needsfile repositories, to be copied and damaged."""
    root = tmp_path_factory.mktemp("pristine")
    result = rpmbuild(_write(root / "needsfile.spec", NEEDS_FILE_SPEC), root / "top")
    extra = root / "extra"
    extra.mkdir()
    shutil.copy(result.srpm, extra)
    createrepo(extra)
    return {"source": example_repos.source_repo, "binary": example_repos.binary_repo,
            "extra": extra}


def _write(path, text):
    path.write_text(text)
    return path


def metadata(repo: Path, kind: str) -> Path:
    return next((repo / "repodata").glob(f"*-{kind}.xml*"))


def fix_checksum(repo: Path, old: bytes, new: bytes) -> None:
    """Make repomd.xml agree with damaged metadata, so the damage reaches libsolv."""
    repomd = repo / "repodata" / "repomd.xml"
    old_sum, new_sum = hashlib.sha256(old).hexdigest(), hashlib.sha256(new).hexdigest()
    repomd.write_text(repomd.read_text().replace(f">{old_sum}<", f">{new_sum}<"))


def load_damaged(pristine, damage, side_by_side=False) -> None:
    """Copy the repositories, let ``damage(repos)`` break them, and load them (parsed
    here, or ``side_by_side`` by helper processes): returns the error message, or None
    when the load succeeded; any other exception fails the test."""
    with tempfile.TemporaryDirectory() as tmp:
        repos = {name: shutil.copytree(path, Path(tmp) / name) for name, path in pristine.items()}
        damage(repos)
        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(repodata, "PARALLEL_MIN_BYTES", 0 if side_by_side else 2**62)
                load_graph([repos["source"], repos["binary"], repos["extra"]], use_cache=False)
        except RepodataError as exc:
            message = str(exc)
            assert message.strip() and "\n" not in message, repr(message)
            assert "Traceback" not in message
            return message
    return None


# -- how metadata gets damaged ------------------------------------------------------

def truncated(data: bytes, draw) -> bytes:
    return data[:draw(st.integers(0, max(0, len(data) - 1)))]


def garbage(data: bytes, draw) -> bytes:
    return draw(st.binary(min_size=0, max_size=300))


def flipped(data: bytes, draw) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        if not out:
            break
        i = draw(st.integers(0, len(out) - 1))
        out[i] = draw(st.integers(0, 255))
    return bytes(out)


def spliced(data: bytes, draw) -> bytes:
    i = draw(st.integers(0, len(data)))
    return data[:i] + draw(st.binary(min_size=1, max_size=64)) + data[i:]


MUTATIONS = {"truncated": truncated, "garbage": garbage, "flipped": flipped,
             "spliced": spliced}


def recompressed(xml: bytes, how: str) -> bytes:
    """``xml`` packed for a file named ``.gz``: rightly, not at all, or wrongly."""
    if how == "plain":
        return xml
    if how == "xz-under-gz-name":
        return lzma.compress(xml)
    return gzip.compress(xml)


# -- properties ---------------------------------------------------------------------

@PROPERTY
@given(repo=st.sampled_from(["source", "binary"]), kind=st.sampled_from(["primary", "filelists"]),
       mutation=st.sampled_from(sorted(MUTATIONS)), layer=st.sampled_from(["compressed", "xml"]),
       data=st.data())
def test_damaged_metadata_with_the_old_checksum_is_refused_as_not_matching(
        pristine, repo, kind, mutation, layer, data):
    def damage(repos):
        path = metadata(repos[repo], kind)
        old = path.read_bytes()
        if layer == "xml":
            new = gzip.compress(MUTATIONS[mutation](gzip.decompress(old), data.draw))
        else:
            new = MUTATIONS[mutation](old, data.draw)
        path.write_bytes(new)
        return new != old

    changed = []
    message = load_damaged(pristine, lambda repos: changed.append(damage(repos)))
    read = kind == "primary" or repo == "binary"     # a source repo's filelists are never read
    if changed[0] and read:
        assert message is not None and "does not match the sha256 checksum" in message


@PROPERTY
@given(repo=st.sampled_from(["source", "binary"]), kind=st.sampled_from(["primary", "filelists"]),
       mutation=st.sampled_from(sorted(MUTATIONS)), layer=st.sampled_from(["compressed", "xml"]),
       side_by_side=st.booleans(), data=st.data())
def test_damaged_metadata_that_repomd_vouches_for_never_escapes_as_another_error(
        pristine, repo, kind, mutation, layer, side_by_side, data):
    # the checksum is made to match: the damage reaches libsolv's parser and the graph
    def damage(repos):
        path = metadata(repos[repo], kind)
        old = path.read_bytes()
        if layer == "xml":
            new = gzip.compress(MUTATIONS[mutation](gzip.decompress(old), data.draw))
        else:
            new = MUTATIONS[mutation](old, data.draw)
        path.write_bytes(new)
        fix_checksum(repos[repo], old, new)

    message = load_damaged(pristine, damage, side_by_side)
    assert message is None or "checksum in repomd.xml" not in message


@PROPERTY
@given(repo=st.sampled_from(["source", "binary"]), kind=st.sampled_from(["primary", "filelists"]),
       how=st.sampled_from(["plain", "xz-under-gz-name", "empty-gzip"]), side_by_side=st.booleans())
def test_metadata_compressed_otherwise_than_its_name_says_is_one_clear_error(
        pristine, repo, kind, how, side_by_side):
    def damage(repos):
        path = metadata(repos[repo], kind)
        old = path.read_bytes()
        new = recompressed(gzip.decompress(old) if how != "empty-gzip" else b"", how)
        path.write_bytes(new)
        fix_checksum(repos[repo], old, new)

    load_damaged(pristine, damage, side_by_side)


@pytest.mark.parametrize("suffix", [".bz2", ".zst", ".xz", ".zck", ".lz4", ".rar"])
@pytest.mark.parametrize("kind", ["primary", "filelists"])
def test_metadata_named_for_another_compression_is_one_clear_error(pristine, kind, suffix):
    def damage(repos):
        path = metadata(repos["binary"], kind)
        renamed = path.with_name(path.name[:-len(".gz")] + suffix)
        path.rename(renamed)
        repomd = repos["binary"] / "repodata" / "repomd.xml"
        repomd.write_text(repomd.read_text().replace(path.name, renamed.name))

    load_damaged(pristine, damage)


@pytest.mark.parametrize("repo", ["source", "binary"])
@pytest.mark.parametrize("kind", ["primary", "filelists"])
def test_metadata_listed_in_repomd_but_missing_is_named(pristine, repo, kind):
    message = load_damaged(pristine, lambda repos: metadata(repos[repo], kind).unlink())
    if kind == "primary" or repo == "binary":
        assert message is not None and "is listed in repomd.xml but missing" in message


@PROPERTY
@given(repo=st.sampled_from(["source", "binary", "extra"]),
       mutation=st.sampled_from(sorted(MUTATIONS)), data=st.data())
def test_a_damaged_repomd_xml_is_one_clear_error(pristine, repo, mutation, data):
    def damage(repos):
        path = repos[repo] / "repodata" / "repomd.xml"
        path.write_bytes(MUTATIONS[mutation](path.read_bytes(), data.draw))

    load_damaged(pristine, damage)


@pytest.mark.parametrize("edit, message", [
    (lambda text: "", "cannot parse repomd.xml"),
    (lambda text: re.sub(r'<data type="primary">.*?</data>', "", text, flags=re.S),
     "lists no primary metadata"),
    (lambda text: re.sub(r'(<data type="primary">.*?<location href=")[^"]*', r"\1../../../etc/passwd",
                         text, flags=re.S), "points outside the repository"),
    (lambda text: re.sub(r'(<data type="primary">.*?<checksum type=")sha256', r"\1sha999",
                         text, flags=re.S), "unknown checksum type"),
    (lambda text: re.sub(r'(<data type="primary">.*?<checksum type="sha256">)[0-9a-f]{8}',
                         r"\g<1>00000000", text, flags=re.S), "does not match"),
])
def test_repomd_xml_that_misleads_is_named(pristine, edit, message):
    def damage(repos):
        path = repos["binary"] / "repodata" / "repomd.xml"
        path.write_text(edit(path.read_text()))

    got = load_damaged(pristine, damage)
    assert got is not None and message in got


def test_a_missing_repomd_xml_is_named(pristine):
    got = load_damaged(pristine, lambda repos: (repos["binary"] / "repodata" / "repomd.xml").unlink())
    assert got is not None and "no repodata/repomd.xml" in got
