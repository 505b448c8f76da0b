"""Plans straight from repositories over HTTP: mirrored into the cache, checked
against repomd.xml's checksums, fetched again only when they change."""

from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from discomy.planning.planner import make_plan
from discomy.planning.repodata import RepodataError, load_graph


@pytest.fixture
def served(tmp_path, example_repos):
    root = tmp_path / "www"
    shutil.copytree(example_repos.source_repo, root / "source")
    shutil.copytree(example_repos.binary_repo, root / "binary")
    requests = []

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root, requests
    server.shutdown()
    server.server_close()


def test_a_plan_from_urls_matches_the_plan_from_the_directories(served, example_repos, tmp_path):
    url, _, requests = served
    remote = load_graph([f"{url}/source", f"{url}/binary/"], cache_dir=tmp_path / "cache")
    local = load_graph(example_repos.repos, cache_dir=tmp_path / "cache-local")
    assert list(remote.names) == list(local.names)
    assert make_plan(remote, ["corelib"]).tiers == make_plan(local, ["corelib"]).tiers
    fetched = len(requests)
    assert any("primary" in r for r in requests) and any("filelists" in r for r in requests)
    # unchanged: one request per repository for repomd.xml, nothing else
    load_graph([f"{url}/source", f"{url}/binary"], cache_dir=tmp_path / "cache")
    assert len(requests) == fetched + 2 and all(r.endswith("repomd.xml")
                                                for r in requests[fetched:])


def test_metadata_that_does_not_match_repomd_is_refused_and_the_old_copy_kept(served, tmp_path):
    url, root, _ = served
    cache = tmp_path / "cache"
    load_graph([f"{url}/source", f"{url}/binary"], cache_dir=cache)
    repomd = root / "binary" / "repodata" / "repomd.xml"
    primary = next((root / "binary" / "repodata").glob("*primary.xml*"))
    # a mirror caught mid-sync: the new repomd.xml lists a primary that is not there yet
    repomd.write_text(repomd.read_text().replace("<timestamp>", "<timestamp>1"))
    primary.write_bytes(primary.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(RepodataError, match="does not match the sha256 checksum"):
        load_graph([f"{url}/source", f"{url}/binary"], cache_dir=cache)
    # the copy from before is intact and still loads from the cache
    kept = [p for p in (cache / "repos").iterdir()]
    assert all((p / "repodata" / "repomd.xml").is_file() for p in kept)


def test_unreachable_and_missing_repositories_are_one_clear_error(served, tmp_path):
    url, _, _ = served
    with pytest.raises(RepodataError, match="HTTP 404"):
        load_graph([f"{url}/nosuch"], cache_dir=tmp_path / "cache")
    with pytest.raises(RepodataError, match="cannot be fetched"):
        load_graph(["http://127.0.0.1:9/repo"], cache_dir=tmp_path / "cache")
