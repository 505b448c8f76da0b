"""Who is at fault for a failed local build, decided from rpmbuild's exit status and the
stage it stopped in, and the whole log of every attempt: real rpmbuild builds of the
example packages, with mistakes put into their specs."""

from __future__ import annotations

from pathlib import Path

from discomy.orchestration.backends.local import LocalBackend
from discomy.orchestration.engine import Engine, EngineSettings
from discomy.cli.local_campaign import start_local_campaign
from discomy.orchestration.store import Store


def files_mistake(spec: str) -> str:
    """%files names a directory %install did not make (a typo)."""
    return spec.replace("%files\n%{_datadir}/alpha\n", "%files\n%{_datadir}/alpah\n")


def killed_build(spec: str) -> str:
    """The machine kills rpmbuild in the middle of %build (as the OOM killer would)."""
    return spec.replace("%build\n", "%build\nkill -KILL $PPID\n")


def campaign(tmp_path, example_repos, sources, retries=3):
    store = Store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    cid = start_local_campaign(store, [sources.path, example_repos.binary_repo], ["corelib"],
                               "per-tier", cache_dir=tmp_path / "cache")
    backend = LocalBackend(tmp_path / "work", [sources.path], cid)
    engine = Engine(store, backend, cid, settings=EngineSettings(max_retries=retries),
                    sleep=lambda s: None)
    return store, cid, backend, engine


def test_a_files_mistake_fails_once_as_the_packages_fault_and_is_not_retried(
        tmp_path, example_repos, sources):
    sources.put("alpha", files_mistake)
    store, cid, backend, engine = campaign(tmp_path, example_repos, sources)
    assert engine.run() == "failed"
    alpha = store.nodes(cid)["alpha"]
    assert (alpha.state, alpha.failure_class, alpha.attempts) == ("failed", "package", 1)
    assert alpha.reason.startswith("rpmbuild failed for alpha in %files: File not found: ")
    assert alpha.reason.endswith("/usr/share/alpah")
    # the whole log of the attempt is kept where the node says
    log = Path(alpha.log)
    assert log.parent == backend.workdir / "logs" / "alpha"
    text = log.read_text()
    assert "Executing(%install)" in text and "RPM build errors:" in text
    assert store.nodes(cid)["appsuite"].state == "quarantined"


def test_rpmbuild_killed_by_a_signal_is_the_machines_fault_and_is_retried(
        tmp_path, example_repos, sources):
    sources.put("alpha", killed_build)
    store, cid, backend, engine = campaign(tmp_path, example_repos, sources, retries=1)
    assert engine.run() == "failed"
    alpha = store.nodes(cid)["alpha"]
    assert (alpha.state, alpha.failure_class, alpha.attempts) == ("failed", "infrastructure", 2)
    assert alpha.reason == "rpmbuild was killed by SIGKILL building alpha in %build"
    # a log per attempt
    assert len(list((backend.workdir / "logs" / "alpha").glob("*.log"))) == 2


def test_rpmbuild_that_cannot_be_started_is_the_machines_fault(tmp_path, example_repos,
                                                                monkeypatch):
    backend = LocalBackend(tmp_path / "work", [example_repos.source_repo], 1)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    outcome = backend.poll(backend.submit("parsekit"))
    assert not outcome.ok and outcome.failure == "infrastructure"
    assert outcome.error.startswith("rpmbuild could not run for parsekit: No such file")
    assert Path(outcome.log).read_text().startswith("$ rpmbuild --rebuild")


def test_a_build_interrupted_with_its_process_is_the_machines_fault(tmp_path, example_repos):
    backend = LocalBackend(tmp_path / "work", [example_repos.source_repo], 1)
    outcome = backend.poll("parsekit@1700000000000000000")     # no result was written
    assert not outcome.ok and outcome.failure == "infrastructure"
    assert outcome.log == str(backend.workdir / "logs" / "parsekit" / "1700000000000000000.log")
