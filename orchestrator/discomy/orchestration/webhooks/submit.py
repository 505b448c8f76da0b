"""Building a push's SRPM (shell): on koji, or here with rpmbuild.

- koji: the SRPM is uploaded (``uploadWrapper``, as ``koji build`` uploads one)
  into ``discomy-webhooks/<build>-<random>`` and built for the target, scratch
  for CI, real for a release; the task is followed with ``getTaskInfo``. The hub's
  policy must let the user build from an SRPM (``build_from_srpm``);
- local: ``rpmbuild --rebuild`` of the SRPM, its packages (and the SRPM) copied
  into the local repository (indexed with createrepo_c) that later pushes are
  compared with.
"""

from __future__ import annotations

import secrets
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from discomy.orchestration.rpmtools import ToolError, createrepo, rpmbuild_failure


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str = ""
    log: str = ""


# -- koji ------------------------------------------------------------------------------------
def koji_submit(session, srpm: Path, target: str, scratch: bool, build_id: int,
                priority: Optional[int] = None) -> str:
    """Upload ``srpm`` and start its build; the task id (text). koji's own errors pass."""
    serverdir = f"discomy-webhooks/{build_id}-{secrets.token_hex(4)}"
    session.uploadWrapper(str(srpm), serverdir, name=srpm.name)
    opts = {"scratch": True} if scratch else {}
    task = session.build(f"{serverdir}/{srpm.name}", target, opts, priority=priority)
    return str(task)


def koji_outcome(session, task: str) -> Optional[Outcome]:
    """None while the task runs; else whether it succeeded, and why not."""
    import koji

    info = session.getTaskInfo(int(task))
    if info is None:
        return Outcome(False, f"koji has no task {task}")
    state = koji.TASK_STATES[info["state"]]
    if state == "CLOSED":
        return Outcome(True)
    if state in ("FAILED", "CANCELED"):
        error = state.lower()
        if state == "FAILED":
            try:
                session.getTaskResult(int(task))
            except koji.GenericError as exc:
                lines = [line for line in str(exc).strip().splitlines() if line.strip()]
                error = lines[-1][:300] if lines else error
        return Outcome(False, f"koji task {task} {error}")
    return None


# -- here ------------------------------------------------------------------------------------
def local_build(srpm: Path, topdir: Path, repo: Path, dist: str, log_path: Path,
                timeout: float) -> Outcome:
    """``rpmbuild --rebuild`` of ``srpm``; on success its packages and itself land in
    ``repo``, indexed."""
    argv = ["rpmbuild", "--rebuild", "--nodeps", "--define", f"_topdir {topdir}",
            "--define", f"dist {dist}", str(srpm)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(log_path, "w") as log:
            log.write(f"$ {shlex.join(argv)}\n")
            log.flush()
            proc = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Outcome(False, f"rpmbuild did not finish within {timeout:g} s", str(log_path))
    except OSError as exc:
        return Outcome(False, f"rpmbuild could not run: {exc.strerror or exc}", str(log_path))
    output = log_path.read_text(errors="replace")
    if proc.returncode != 0:
        found = rpmbuild_failure(output)
        where = f" in {found.stage}" if found.stage else ""
        detail = "; ".join(found.errors[:3]) or f"exit status {proc.returncode}"
        return Outcome(False, f"rpmbuild failed{where}: {detail}", str(log_path))
    built = [Path(line.split(":", 1)[1].strip()) for line in output.splitlines()
             if line.startswith("Wrote: ") and line.rstrip().endswith(".rpm")]
    repo.mkdir(parents=True, exist_ok=True)
    for path in [*built, srpm]:
        shutil.copy2(path, repo / path.name)
    try:
        createrepo(repo)
    except ToolError as exc:
        return Outcome(False, f"createrepo_c failed on {repo}: {exc}", str(log_path))
    return Outcome(True, "", str(log_path))
