"""A push to an upstream repository: its commit becomes the spec's Source0 (``git
archive``, unpacking to ``<name>-<version>/``), the spec comes from the dist-git's
branch, and the package is built from both."""

from __future__ import annotations

import subprocess

from hook_world import World, commit_day

SPEC_CHANGES = [
    ("License:        MIT\n", "License:        MIT\nSource0:        corelib-%{version}.tar.gz\n"),
    ("%prep\n", "%prep\n%setup -q\n"),
    ('echo "corelib %{version}" > %{buildroot}%{_datadir}/corelib/VERSION',
     "cp VERSION %{buildroot}%{_datadir}/corelib/VERSION"),
]


def _file_in(rpm_path, name: str) -> str:
    cpio = subprocess.run(["rpm2cpio", str(rpm_path)], capture_output=True, check=True).stdout
    return subprocess.run(["cpio", "-i", "--quiet", "--to-stdout", name], input=cpio,
                          capture_output=True, check=True).stdout.decode()


def test_an_upstream_push_builds_its_commit_with_the_dist_gits_spec(tmp_path):
    from discomy.cli.examples import commit_file

    upstream = tmp_path / "git" / "corelib-upstream.git"
    sha = commit_file(upstream, "VERSION", "corelib from upstream, first\n", "first")
    w = World(tmp_path, extra_repos=[{
        "forge": "forgejo", "name": "acme/corelib-upstream",
        "upstream": f"file://{upstream}", "dist_git_branch": "main"}])
    try:
        spec = w.spec_text
        for old, new in SPEC_CHANGES:
            assert old in spec
            spec = spec.replace(old, new)
        w.commit(spec, "build from the upstream tarball")
        answer = w.push("forgejo", "acme/corelib-upstream", sha)
        assert answer.status_code == 202, answer.text
        w.settle()
        b = w.build(answer.json()["build"])
        assert b["state"] == "success", b
        day = commit_day(upstream, sha)
        assert b["nvr"] == f"corelib-1.2-0.git{day}.{sha[:7]}.el9"
        repo = tmp_path / "webhooks" / "repos" / "forgejo-acme_corelib-upstream"
        (built,) = [p for p in repo.glob("corelib-1.2-*.rpm") if ".src." not in p.name]
        assert _file_in(built, "./usr/share/corelib/VERSION") == \
            "corelib from upstream, first\n"
        srpm = repo / f"{b['nvr']}.src.rpm"
        files = subprocess.run(["rpm", "-qlp", str(srpm)], capture_output=True, text=True,
                               check=True).stdout.split()
        assert sorted(files) == ["corelib-1.2.tar.gz", "corelib.spec"]
    finally:
        w.close()
