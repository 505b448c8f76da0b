"""The API's request and response bodies (pydantic), which the OpenAPI document at
``/openapi.json`` is made from.

Strings that reach the store are held to the shapes the store's columns take
(package names and koji tags: letters, digits and ``._+~^:-``, bounded), so no
request can carry a NUL, a lone surrogate or an overlong value into a query.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from discomy.orchestration import campaign as cm
from discomy.orchestration.modules import core as mcore

Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9._+~^:-]{1,255}$",
                            description="a source package name, or an NVR",
                            examples=["zlib"])]
Tag = Annotated[str, Field(pattern=r"^[A-Za-z0-9._+-]{1,200}$",
                           description="a koji build target", examples=["el9-candidate"])]
CampaignState = Literal[cm.CAMPAIGN_STATES]
NodeState = Literal[cm.NODE_STATES]
FailureClass = Literal[cm.INFRASTRUCTURE, cm.PACKAGE]
Backend = Literal["koji", "local"]
Release = Literal[cm.RELEASE_MODES]
Depth = Literal["direct", "buildroot"]
Mode = Literal["scratch", "sidetag"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- errors ------------------------------------------------------------------------------
class Problem(BaseModel):
    where: str = Field(description="the field: body.names.0, query.limit, ...")
    message: str


class ErrorBody(BaseModel):
    status: int
    error: str = Field(description="one sentence saying what is wrong")
    problems: Optional[list[Problem]] = Field(
        default=None, description="each invalid field of the request (422)")


# -- campaigns ---------------------------------------------------------------------------
class Eta(BaseModel):
    seconds: Optional[float] = Field(description="time left; null when it cannot be told")
    finish_at: Optional[float] = Field(description="Unix time it should finish")
    critical_path_seconds: Optional[float] = Field(
        description="the longest planned chain still open")
    rate_seconds: Optional[float] = Field(description="what is open, at the pace so far")
    basis: str


class CampaignSummary(BaseModel):
    id: int
    state: CampaignState
    changed: list[str]
    backend: str
    release: str
    mode: str
    target: str
    created_at: float
    note: str
    counts: dict[str, int] = Field(description="nodes per state, and total")
    progress: float = Field(description="the share of nodes done, 0 to 1")
    eta: Eta
    url: str


class CampaignPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[CampaignSummary]
    next: Optional[str] = Field(description="the next page, or null on the last")


class Tier(BaseModel):
    tier: int
    total: int
    counts: dict[str, int]


class Node(BaseModel):
    name: str
    tier: int
    state: NodeState
    attempts: int
    failure_class: Optional[str]
    reason: str
    task: Optional[str] = Field(description="the build system's reference of the attempt")
    nvr: Optional[str]
    repo_wait: Optional[str]
    gate_since: Optional[float]
    log: Optional[str] = Field(description="where the latest attempt's whole log is")
    host: Optional[str] = Field(None, description="where the latest attempt ran: koji's "
                                "buildArch hosts as arch:host, or this machine's name")
    started_at: Optional[float] = Field(None, description="when the latest attempt was "
                                        "submitted (seconds since the epoch)")
    build_seconds: Optional[float] = Field(None, description="how long the latest attempt "
                                           "ran, as the build system measured it")
    remaining_seconds: float = Field(description="the longest planned chain from here on")
    updated_at: float


class Failures(BaseModel):
    total: int
    by_class: dict[str, int]
    first: list[Node] = Field(description="the first failed nodes in tier order; the rest "
                                          "at nodes?state=failed")


class CampaignDetail(CampaignSummary):
    dest_tag: Optional[str]
    sidetag: Optional[str]
    merged: bool
    tiers: list[Tier]
    failures: Failures
    nodes_url: str


class NodePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[Node]
    next: Optional[str]


class NodeDetail(Node):
    deps: list[str] = Field(description="the nodes it waits for")
    dependents: list[str] = Field(description="the nodes waiting for it")


class HostVerdict(BaseModel):
    name: str
    eligible: bool = Field(description="whether the host could take the task now")
    reasons: str = Field(description="why not, as the hub says")


class TaskExplanation(BaseModel):
    task_id: Optional[int]
    method: str
    arch: str
    state: str = Field(description="koji's task state: FREE, ASSIGNED, OPEN, CLOSED, ...")
    verdict: str = Field(description="one sentence: why koji has not run it, or what it does")
    requirements: str = Field(description="the task's requirements, as the hub reads them")
    hosts: list[HostVerdict] = Field(description="the hub's verdict per host (a page of them)")
    hidden: int = Field(description="hosts left out of the page")
    eligible: int = Field(description="hosts that could take it")
    note: str


class KojiLook(BaseModel):
    tasks: list[TaskExplanation] = Field(description="the node's task and its waiting subtasks")
    load: list[str] = Field(description="koji's queue and load, in sentences")
    problem: Optional[str] = Field(description="why koji could not be asked; null when it was")


class NodeExplanation(BaseModel):
    name: str
    state: NodeState
    task: Optional[str]
    why: str = Field(description="why it waits, from what the store knows")
    koji: Optional[KojiLook] = Field(description="what koji says; null for a local campaign's "
                                                 "or a settled node")


class StartRequest(Strict):
    """A campaign to start, as ``discomy rebuild --detach`` records one; options left
    out are the ``[campaign]`` section's."""
    names: list[Name] = Field(min_length=1, max_length=100,
                              description="the changed source packages")
    backend: Optional[Backend] = None
    release: Optional[Release] = None
    depth: Optional[Depth] = None
    target: Optional[Tag] = None
    mode: Optional[Mode] = None


class FleetGroup(Strict):
    """A group of identical hosts, as in a fleet file (docs/planner.md)."""
    name: str = Field(min_length=1, max_length=100)
    count: int
    arches: Union[list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,30}$")]], str] = \
        Field(max_length=200)
    speed: float
    capacity: float
    maxjobs: int
    cpus: Optional[int] = None
    memory: Optional[Union[int, Annotated[str, Field(max_length=30)]]] = None
    disk: Optional[Union[int, Annotated[str, Field(max_length=30)]]] = None


class PreviewRequest(Strict):
    """What ``discomy rebuild --dry-run`` is asked: the plan, and an ETA on ``fleet`` or,
    for koji, on koji's enabled hosts."""
    names: list[Name] = Field(min_length=1, max_length=100)
    backend: Optional[Backend] = None
    depth: Optional[Depth] = None
    target: Optional[Tag] = None
    fleet: Optional[list[FleetGroup]] = Field(default=None, min_length=1, max_length=100)


class Preview(BaseModel):
    changed: list[str]
    affected: int
    tiers: list[list[str]]
    cycles: list[list[str]]
    compute_hours: float
    critical_path_hours: float
    eta: Optional[dict[str, Any]] = Field(description="the simulated run on the fleet")
    eta_unavailable: Optional[str] = Field(description="why there is no ETA")


class CampaignChange(Strict):
    """``running``: go on (``discomy resume``), with ``fixed`` when a fix of that failed
    node is in; ``cancelled``: stop submitting (``discomy cancel``), with ``kill`` to
    cancel its running koji tasks too."""
    state: Literal[cm.RUNNING, cm.CANCELLED]
    fixed: Optional[Name] = None
    kill: bool = False

    @model_validator(mode="after")
    def _fits_the_state(self):
        if self.fixed is not None and self.state != cm.RUNNING:
            raise ValueError("fixed goes with state running")
        if self.kill and self.state != cm.CANCELLED:
            raise ValueError("kill goes with state cancelled")
        return self


class ChangeResult(BaseModel):
    campaign: int
    state: CampaignState
    action: Literal["fixed", "rebuild", "requeued", "cancelled"]
    nodes: list[str] = Field(description="the nodes the change concerns")
    builds_running: int = Field(description="after a cancel: builds that go on to their end")
    tasks_cancelled: int
    message: str


# -- hosts -------------------------------------------------------------------------------
class Host(BaseModel):
    id: int
    name: str
    enabled: bool
    arches: list[str]
    capacity: float
    task_load: float
    ready: bool
    maxjobs: Optional[int]
    draining: bool = Field(description="the builder says it is draining")
    cpus: Optional[int]
    memory_mb: Optional[int]
    memory_available_mb: Optional[int]
    disk_free_mb: Optional[int]
    speed: Optional[float]
    virt: list[str]
    arches_emulated: list[str]
    features: list[str]
    load1: Optional[float]
    strong: bool
    probed_at: Optional[float]
    comment: Optional[str]
    warnings: list[str]
    drained: Optional[bool] = Field(None, description="the hub's drain (discomy.drainHost); "
                                                      "null when the hub does not run discomy_hub")
    running_tasks: Optional[int] = Field(None, description="open tasks, as the hub plugin counts")
    claimed: Optional[dict] = Field(None, description="what the builder claims (hub plugin)")
    learned: Optional[dict] = Field(None, description="the speed the hub learned from builds")
    speed_source: Optional[str] = Field(None, description="where the speed in force comes from")


class HostGroup(BaseModel):
    name: str
    count: int
    arches: list[str]
    speed: float
    capacity: float
    maxjobs: int
    cpus: Optional[int]
    memory_mb: Optional[int]
    disk_mb: Optional[int]


class Fleet(BaseModel):
    hosts: int
    arches: list[str]
    groups: list[HostGroup]


class Hosts(BaseModel):
    hosts: list[Host]
    fleet: Optional[Fleet] = Field(description="the enabled hosts as the estimator groups "
                                               "them; null when none can take work")
    fleet_unavailable: Optional[str]
    unread: list[str] = Field(description="koji's rows that could not be read")
    fetched_at: float = Field(description="when koji was asked (Unix time)")
    hub_plugin: bool = Field(False, description="whether the hub runs discomy_hub")


# -- the service -------------------------------------------------------------------------
class Index(BaseModel):
    service: str
    version: str
    links: dict[str, str]


class Health(BaseModel):
    status: Literal["ok"]
    store: str


# -- module builds -----------------------------------------------------------------------
ModuleState = Literal[mcore.STATES]
ModuleName = Annotated[str, Field(pattern=r"^[A-Za-z0-9._+~^:-]{1,255}$",
                                  description="a module name, stream, version or context",
                                  examples=["nodejs"])]
# who submitted: a token's name or the front end's user, printable
Owner = Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]{1,255}$", examples=["jdoe"])]
Reuse = Literal[mcore.REUSE_STRATEGIES]


class ModuleBuildRequest(Strict):
    """A module to build: its git repository (``scmurl``, with ``?#REF`` if not the
    branch's head) and ``branch`` (its stream), holding ``NAME.yaml``; or an uploaded
    modulemd (``modulemd``, the document's text), a scratch build on koji."""
    scmurl: Optional[str] = Field(default=None, min_length=1, max_length=4096,
                                  examples=["git+https://src.example.org/modules/nodejs.git"])
    branch: Optional[str] = Field(default=None, min_length=1, max_length=255,
                                  examples=["20"])
    modulemd: Optional[str] = Field(default=None, min_length=1,
                                    description="a modulemd v2 or packager v3 document")
    filename: Optional[str] = Field(default=None, min_length=1, max_length=255,
                                    description="the uploaded document's name, for errors")
    scratch: bool = False
    reuse: Optional[Reuse] = Field(default=None, description="which unchanged components are "
                                   "taken from the stream's last build ([modules] reuse)")
    contexts: list[ModuleName] = Field(default_factory=list, max_length=50,
                                       description="build only these contexts "
                                                   "(default: every one)")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.scmurl is None) == (self.modulemd is None):
            raise ValueError("give either scmurl and branch, or modulemd")
        if self.scmurl is not None and self.branch is None:
            raise ValueError("scmurl needs a branch (the module's stream)")
        if self.modulemd is not None and (self.branch is not None):
            raise ValueError("branch goes with scmurl")
        if self.filename is not None and self.modulemd is None:
            raise ValueError("filename goes with modulemd")
        return self


class ModuleBuild(BaseModel):
    id: int
    name: str
    stream: str
    version: str
    context: str
    nsvc: str = Field(description="name:stream:version:context")
    state: ModuleState
    state_reason: Optional[str]
    failure_class: Optional[str]
    note: Optional[str] = Field(description="what it waits for, when it waits")
    backend: str
    scratch: bool
    owner: Optional[str]
    scmurl: Optional[str]
    branch: Optional[str]
    commit: Optional[str]
    buildrequires: Optional[dict[str, Any]]
    requires: Optional[dict[str, Any]]
    order: Optional[str] = Field(description="batches (buildorder) or dag (buildafter)")
    reuse: Optional[str]
    reused_from: Optional[int]
    koji_tag: Optional[str]
    build_tag: Optional[str]
    target: Optional[str]
    dist: Optional[str]
    repo: Optional[str] = Field(description="the module repo, once ready")
    campaign: Optional[int] = Field(description="the campaign building its components")
    created_at: Optional[str]
    updated_at: Optional[str]
    completed_at: Optional[str]
    components_total: int
    component_states: dict[str, int]
    url: str


class ModuleBatch(BaseModel):
    batch: int
    states: dict[str, int] = Field(description="its components per state")


class ModuleComponent(BaseModel):
    name: str
    batch: int
    state: Optional[NodeState]
    nvr: Optional[str]
    task: Optional[str]
    task_url: Optional[str]
    reason: Optional[str]
    failure_class: Optional[str]
    attempts: int
    log: Optional[str]
    repository: Optional[str]
    ref: Optional[str]
    commit: Optional[str]
    scmurl: Optional[str]
    buildorder: Optional[int]
    buildafter: list[str]
    arches: list[str]
    buildonly: bool
    rationale: Optional[str]
    reused_from: Optional[int]
    artifacts: list[str]


class ModuleBuildDetail(ModuleBuild):
    batches: list[ModuleBatch]
    components: list[ModuleComponent]
    modulemd: Optional[str] = Field(default=None, description="as submitted (refs resolved)")
    modulemd_final: Optional[str] = Field(default=None, description="as built: NVRs and "
                                          "artifacts (what the module repo's modules.yaml has)")


class ModuleBuildPage(BaseModel):
    items: list[ModuleBuild]
    page: int
    per_page: int
    total: int
    pages: int
    next: Optional[str] = Field(description="the next page, or null on the last")


class ModuleBuildChange(Strict):
    """``canceled``: stop the build (its component builds still running are stopped)."""
    state: Literal[mcore.CANCELED]
