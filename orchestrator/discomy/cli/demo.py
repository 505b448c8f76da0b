"""``make demo``: the main job on the embedded default, with no servers.

Builds the example packages (rpmbuild + createrepo_c), prints the rebuild plan
and the fleet estimate for a change in the bottom package, then runs the
rebuild itself as a local campaign when the local backend is installed. Last,
the example module: each example spec in a git repository of its own, built
by ``discomy module-build --local`` into a module repo with its modules.yaml.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from discomy import cli
from discomy.cli.examples import BOTTOM_PACKAGE, EXAMPLE_MODULE, EXAMPLES_DIR, build_examples


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m discomy.cli.demo", description=__doc__)
    parser.add_argument("--workdir", type=Path, default=Path("out/demo"))
    parser.add_argument("--changed", default=BOTTOM_PACKAGE)
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()

    print(f"==> Building the example packages from {EXAMPLES_DIR} into {workdir}/repos")
    repos = build_examples(workdir)
    repo_args = []
    for repo in repos.repos:
        repo_args += ["--repo", str(repo)]
    # reference build seconds, as exported from koji's build history
    cache = ["--cache-dir", str(workdir / "cache"), "--durations", str(EXAMPLES_DIR / "durations.json")]

    print(f"\n==> discomy plan --changed {args.changed}")
    rc = cli.main(["plan", *repo_args, *cache, "--changed", args.changed])
    if rc:
        return rc
    fleet = EXAMPLES_DIR / "fleet.yaml"
    plot = workdir / "timeline.svg"
    print(f"\n==> discomy estimate --changed {args.changed} --fleet {fleet}")
    rc = cli.main(["estimate", *repo_args, *cache, "--changed", args.changed,
                   "--fleet", str(fleet), "--plot", str(plot)])
    if rc:
        return rc
    try:
        from discomy.cli.local_campaign import run_local_campaign
    except ImportError:
        return 0
    print(f"\n==> Local rebuild campaign for a change in {args.changed}")
    summary = run_local_campaign(workdir / "campaign", [args.changed], release="per-tier",
                                 progress=True)
    print(f"campaign {summary['campaign']}: {summary['state']}; rebuilt "
          f"{', '.join(summary['nvrs'])}")
    print(f"repository: {summary['repo']}")
    if summary["state"] != "done":
        return 1
    return build_example_module(workdir / "module")


def build_example_module(workdir: Path) -> int:
    """The example module from git repositories made here, built with the local backend."""
    from discomy.cli.examples import make_git_repos

    shutil.rmtree(workdir, ignore_errors=True)      # each demo builds it afresh
    git = make_git_repos(workdir / "git")
    template = f"file://{git}/{{name}}.git"
    print(f"\n==> discomy module-build --local --file {EXAMPLE_MODULE} "
          f"--rpms-repository {template}")
    return cli.main(["module-build", "--local", "--file", str(EXAMPLE_MODULE),
                     "--workdir", str(workdir / "builds"), "--rpms-repository", template])


if __name__ == "__main__":
    sys.exit(main())
