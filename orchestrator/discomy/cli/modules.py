"""``discomy module-build``: build a module.

``--local --file MODULEMD.yaml`` builds it here with the local backend and no
koji, as MBS's local builds did: the state in an SQLite file in the work
directory, each component's commit exported from git and rebuilt with
rpmbuild, batch by batch (or along the buildafter DAG), into a module repo with
its ``modules.yaml``, whose path is printed last. Run again on the same file,
it resumes: built components are kept, failed ones built again.

Without ``--local``, the build (``SCMURL BRANCH``, or ``--file`` with
``--scratch``) is recorded in the config's store for ``discomy serve`` to run
on ``[modules] backend``; its number is printed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from discomy.cli import CliError, read_config
from discomy.common.paths import path_option


def _default_workdir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"),
                                                           ".local", "share")
    return Path(base) / "discomy" / "modules"


def register(subparsers) -> None:
    build = subparsers.add_parser(
        "module-build", help="build a module (modulemd v2 or packager v3)",
        description="Build a module: with --local here, with no koji (components from their "
                    "git repositories, rebuilt with rpmbuild; the module repo's path is "
                    "printed); else recorded for discomy serve. See docs/modules.md.")
    build.add_argument("scmurl", nargs="?", metavar="SCMURL",
                       help="the module's git repository (with ?#REF), holding NAME.yaml")
    build.add_argument("branch", nargs="?", metavar="BRANCH",
                       help="the module's branch: its stream")
    build.add_argument("--file", type=path_option, metavar="MODULEMD.yaml",
                       help="a modulemd file instead of SCMURL BRANCH")
    build.add_argument("--local", action="store_true",
                       help="build here with rpmbuild, no koji, and wait for the end")
    build.add_argument("--workdir", type=path_option, default=None,
                       help=f"where local builds go (default {_default_workdir()})")
    build.add_argument("--rpms-repository", metavar="TEMPLATE",
                       help="a component's git repository when the modulemd names none, "
                            "{name} replaced (default: [modules] rpms_repository)")
    build.add_argument("--reuse", choices=("changed-and-after", "only-changed", "all"),
                       help="which unchanged components are taken from the last build of the "
                            "stream (default: [modules] reuse)")
    build.add_argument("--context", action="append", default=[], metavar="CONTEXT",
                       help="build only this context (repeatable; default: every one)")
    build.add_argument("--scratch", action="store_true",
                       help="a scratch build: nothing reuses it, and it is never resumed")
    build.add_argument("--config", type=path_option, default=None,
                       help="orchestrator config (default /etc/discomy/orchestrator.toml)")
    build.add_argument("--store", default=None,
                       help="SQLAlchemy URL of the state (default: the work directory's "
                            "SQLite file with --local, else [store] url)")
    build.add_argument("--json", action="store_true",
                       help="print the module builds as JSON")
    build.add_argument("--no-progress", action="store_true",
                       help="no progress bars (for logs and pipes)")
    build.set_defaults(func=run_module_build)


def _stamp(path: Path) -> str:
    """The file's modification time as a module version's timestamp: the same file
    builds the same version (and resumes it), an edited one a new version."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(path.stat().st_mtime))


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CliError(f"{path}: not UTF-8 text") from None


def run_module_build(args) -> int:
    from discomy.orchestration.modules.service import ModuleRequestError, submit_module_build
    from discomy.orchestration.store import StoreError, absolute_store_url

    if (args.file is None) == (args.scmurl is None):
        raise CliError("give either --file MODULEMD.yaml or SCMURL BRANCH")
    if args.scmurl is not None and args.branch is None:
        raise CliError("SCMURL needs a BRANCH")
    if args.scmurl is not None:
        from discomy.orchestration.modules.scm import ScmError, check_ref, parse_scmurl

        try:         # before any store is opened: a bad request leaves nothing behind
            parse_scmurl(args.scmurl)
            check_ref(args.branch)
        except ScmError as exc:
            raise CliError(str(exc)) from None
    config = read_config(args)
    text = stamp = None
    if args.file is not None:
        text = _read(args.file)
        stamp = _stamp(args.file)
    if args.local:
        workdir = Path(args.workdir or _default_workdir())
        config["modules"]["workdir"] = str(workdir)
        store_url = absolute_store_url(args.store) if args.store else \
            f"sqlite:///{workdir / 'discomy.sqlite'}"
    else:
        if args.workdir:
            config["modules"]["workdir"] = str(args.workdir)
        store_url = absolute_store_url(args.store) if args.store else config["store"]["url"]
    from discomy.orchestration.store import Store

    try:
        if args.local:
            Path(config["modules"]["workdir"]).mkdir(parents=True, exist_ok=True)
        store = Store(store_url)
    except (OSError, StoreError) as exc:
        raise CliError(f"cannot open the store: {exc}") from None
    try:
        builds = submit_module_build(
            store, config, scmurl=args.scmurl, branch=args.branch, modulemd=text,
            filename=str(args.file) if args.file else None, scratch=args.scratch,
            owner=os.environ.get("USER", ""), reuse=args.reuse, contexts=args.context,
            backend="local" if args.local else None, rpms_repository=args.rpms_repository,
            timestamp=stamp)
    except ModuleRequestError as exc:
        raise CliError(str(exc)) from None
    if not args.local:
        for build in builds:
            print(json.dumps(build) if args.json else
                  f"module build {build['id']}: {build['nsvc']} ({build['state']}) recorded "
                  f"for discomy serve")
        return 0
    return _build_here(store, config, builds, args)


def _build_here(store, config: dict, builds: list, args) -> int:
    from discomy.orchestration.modules.driver import ModuleDriver
    from discomy.orchestration.modules.service import get_module_build
    from discomy.orchestration.runner import Progress, side_services

    gate, notifier = side_services(config)
    driver = ModuleDriver(store, config, gate=gate, notifier=notifier)
    results = []
    try:
        for build in builds:
            row = store.modules.get(build["id"])
            display = None if args.no_progress or args.json else \
                Progress(store.nodes(row.campaign_id), first=1,
                         label="batch" if row.order_kind == "batches" else "tier")
            if display:
                driver.on_change = display.update
            try:
                print(f"module build {row.id}: {row.nsvc}", file=sys.stderr)
                driver.run(row.id, poll_seconds=0.2)
            finally:
                if display:
                    display.close()
            results.append(get_module_build(store, row.id, modulemd=False))
    except KeyboardInterrupt:
        print("run the same command again to go on where it stopped", file=sys.stderr)
        raise
    finally:
        if notifier:
            notifier.close()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for build in results:
            _print_build(build)
    return 0 if all(b["state"] == "ready" for b in results) else 1


def _print_build(build: dict) -> None:
    print(f"module build {build['id']} {build['nsvc']}: {build['state']}"
          + (f" ({build['state_reason']})" if build["state"] != "ready" else ""),
          file=sys.stderr)
    for c in build["components"]:
        if c["state"] == "failed":
            print(f"  {c['name']}: {c['failure_class']}: {c['reason']}", file=sys.stderr)
            if c["log"]:
                print(f"      log: {c['log']}", file=sys.stderr)
    if build["repo"]:
        print(build["repo"])
