"""``discomy resume`` and ``discomy cancel`` on recorded campaigns."""

from __future__ import annotations

import json
import socket

from discomy import cli
from discomy.orchestration.backends import BuildOutcome
from discomy.orchestration.backends.local import LocalBackend
from discomy.orchestration.engine import Engine
from discomy.cli.local_campaign import start_local_campaign
from discomy.orchestration.store import Store


class FailingAlpha:
    def __init__(self, inner):
        self.inner, self.name = inner, inner.name

    def __getattr__(self, attr):
        return getattr(self.inner, attr)

    def submit(self, name, priority=0):
        return "failing" if name == "alpha" else self.inner.submit(name, priority)

    def poll_all(self, tasks):
        return {task: self.poll(task) for task in tasks}

    def poll(self, task):
        if task == "failing":
            return BuildOutcome(False, error="error: Bad exit status from /var/tmp/rpm-tmp (%check)")
        return self.inner.poll(task)


def failed_campaign(tmp_path, example_repos):
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    store = Store(url)
    cid = start_local_campaign(store, example_repos.repos, ["corelib"], "per-tier",
                               cache_dir=tmp_path / "cache", workdir=tmp_path / "work")
    backend = FailingAlpha(LocalBackend(tmp_path / "work" / f"campaign-{cid}",
                                        [example_repos.source_repo], cid))
    assert Engine(store, backend, cid).run() == "failed"
    return url, cid


def test_resume_with_the_fixed_node_finishes_the_campaign_from_what_it_recorded(
        tmp_path, example_repos, capsys):
    url, cid = failed_campaign(tmp_path, example_repos)
    assert cli.main(["status", str(cid), "--store", url]) == 0
    out = capsys.readouterr().out
    assert "alpha=failed" in out and "beta=quarantined" in out and "(package)" in out
    assert cli.main(["resume", str(cid), "alpha", "--store", url, "--no-progress",
                     "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["state"] == "done"
    assert summary["done"] == ["alpha", "appsuite", "beta", "parsekit"]


def test_resume_without_a_node_builds_the_failed_ones_again(tmp_path, example_repos, capsys):
    url, cid = failed_campaign(tmp_path, example_repos)
    assert cli.main(["resume", str(cid), "--store", url, "--no-progress", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["state"] == "done"
    assert "alpha-0.9-1.el9.discomy1" in summary["nvrs"]


def test_resume_refuses_a_node_that_did_not_fail(tmp_path, example_repos, capsys):
    url, cid = failed_campaign(tmp_path, example_repos)
    assert cli.main(["resume", str(cid), "parsekit", "--store", url]) == 2
    assert "parsekit is done in campaign 1, not failed" in capsys.readouterr().err
    assert cli.main(["resume", str(cid), "nosuch", "--store", url]) == 2
    assert "nosuch is not part of campaign 1" in capsys.readouterr().err


def test_a_cancelled_campaign_stays_cancelled(tmp_path, example_repos, capsys):
    url, cid = failed_campaign(tmp_path, example_repos)
    assert cli.main(["cancel", str(cid), "--store", url]) == 0
    assert "cancelled" in capsys.readouterr().out
    assert cli.main(["resume", str(cid), "--store", url]) == 2
    assert "was cancelled" in capsys.readouterr().err
    assert cli.main(["cancel", str(cid), "--store", url]) == 2
    assert cli.main(["cancel", "99", "--store", url]) == 2
    assert "no campaign 99" in capsys.readouterr().err
    assert Store(url).campaign(cid).state == "cancelled"


def files_mistake(spec: str) -> str:
    return spec.replace("%files\n%{_datadir}/alpha\n", "%files\n%{_datadir}/alpah\n")


def test_a_foreground_rebuild_ends_with_each_failures_reason_and_log_for_people(
        tmp_path, example_repos, sources, capsys):
    sources.put("alpha", files_mistake)
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    config = tmp_path / "orchestrator.toml"
    config.write_text(f'[plan]\ncache_dir = "{tmp_path / "cache"}"\n')
    assert cli.main(["rebuild", "corelib", "--backend", "local", "--repo", str(sources.path),
                     "--repo", str(example_repos.binary_repo), "--store", url, "--workdir",
                     str(tmp_path / "work"), "--config", str(config), "--no-progress"]) == 1
    out = capsys.readouterr().out
    log = Store(url).nodes(1)["alpha"].log
    assert out.splitlines()[0] == "campaign 1: failed (1 done, 1 failed, 2 quarantined)"
    assert "  failed: alpha (package): rpmbuild failed for alpha in %files: File not found: " \
        in out
    assert f"      log: {log}\n" in out and log.startswith(str(tmp_path / "work" / "campaign-1"))
    assert "  quarantined: appsuite, beta (waits for alpha, which failed)" in out
    assert not out.lstrip().startswith("{")
    # discomy status says the same of the failed node
    assert cli.main(["status", "1", "--store", url]) == 0
    status = capsys.readouterr().out
    assert "failed: alpha (package): rpmbuild failed for alpha in %files" in status
    assert f"log: {log}" in status and "quarantined: beta (waits for alpha" in status
    assert cli.main(["status", "1", "--store", url, "--json"]) == 0
    alpha = json.loads(capsys.readouterr().out)["nodes"]["alpha"]
    assert alpha["log"] == log and alpha["host"] == socket.gethostname()
    assert alpha["build_seconds"] > 0 and alpha["started_at"] > 0


def test_progress_bars_count_quarantined_and_failed_nodes_as_not_done():
    from discomy.orchestration.campaign import Node
    from discomy.orchestration.runner import Progress

    nodes = {"alpha": Node("alpha", 1, (), state="failed"),
             "beta": Node("beta", 2, ("alpha",), state="quarantined"),
             "appsuite": Node("appsuite", 2, ("beta",), state="quarantined"),
             "other": Node("other", 2, (), state="done")}
    display = Progress(nodes)
    try:
        display.update(nodes)
        bars = {t.description: t for t in display.progress.tasks}
        assert (bars["tier 1"].completed, bars["tier 1"].total) == (0, 1)
        assert (bars["tier 2"].completed, bars["tier 2"].total) == (1, 3)
        assert bars["tier 1"].fields["note"] == "failed: alpha"
        assert bars["tier 2"].fields["note"] == "quarantined: appsuite, beta"
    finally:
        display.close()


def bump(release: int, broken: bool = False):
    """alpha at a new release, as a packager's fix (or a fix that is not one)."""
    def edit(spec: str) -> str:
        spec = spec.replace("Release:        1%{?dist}", f"Release:        {release}%{{?dist}}")
        return files_mistake(spec) if broken else spec
    return edit


def test_resuming_a_local_node_builds_its_fix_from_the_source_repos_before_its_dependents(
        tmp_path, example_repos, sources, capsys):
    sources.put("alpha", files_mistake)
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    work = tmp_path / "work"
    config = tmp_path / "orchestrator.toml"
    config.write_text(f'[plan]\ncache_dir = "{tmp_path / "cache"}"\n')
    common = ["--store", url, "--config", str(config), "--no-progress"]
    assert cli.main(["rebuild", "corelib", "--backend", "local", "--repo", str(sources.path),
                     "--repo", str(example_repos.binary_repo), "--workdir", str(work),
                     *common]) == 1
    repo = work / "campaign-1" / "repo"
    alpha_rpms = lambda: sorted(p.name for p in repo.glob("alpha-*.rpm"))   # noqa: E731
    capsys.readouterr()
    # nothing fixed yet: refused, and the campaign does not pretend alpha is built
    assert cli.main(["resume", "1", "alpha", *common]) == 2
    err = capsys.readouterr().err
    assert "alpha cannot be resumed in campaign 1: the source package of alpha is still the " \
           "one that failed (alpha-0.9-1.el9.src.rpm): put the fixed source package into " \
           f"{sources.path}" in err
    assert Store(url).campaign(1).state == "failed" and alpha_rpms() == []
    # a new release that still fails: built, failed again, dependents still wait
    sources.put("alpha", bump(2, broken=True), replace=False)
    assert cli.main(["resume", "1", "alpha", *common, "--json"]) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["state"] == "failed" and summary["quarantined"] == ["appsuite", "beta"]
    assert alpha_rpms() == []
    # the real fix: alpha is built from it, then its dependents
    sources.put("alpha", bump(3), replace=False)
    assert cli.main(["resume", "1", "alpha", *common, "--json"]) == 0
    captured = capsys.readouterr()
    assert "alpha is built again from " in captured.err and \
        captured.err.rstrip().endswith("alpha-0.9-3.el9.src.rpm")
    summary = json.loads(captured.out)
    assert summary["state"] == "done"
    assert "alpha-0.9-3.el9.discomy1" in summary["nvrs"]
    assert alpha_rpms() == ["alpha-0.9-3.el9.discomy1.x86_64.rpm",
                            "alpha-devel-0.9-3.el9.discomy1.x86_64.rpm"]


def test_resuming_a_local_node_without_a_source_package_is_refused(tmp_path, example_repos,
                                                                   sources, capsys):
    url, cid = failed_campaign(tmp_path, example_repos)
    # the campaign recorded the examples' source repo; name one without alpha instead
    for srpm in sources.path.glob("alpha-*.src.rpm"):
        srpm.unlink()
    assert cli.main(["resume", str(cid), "alpha", "--store", url, "--repo",
                     str(sources.path)]) == 2
    assert "there is no source package of alpha to build a fix from" in capsys.readouterr().err
    assert Store(url).nodes(cid)["alpha"].state == "failed"
