"""Load rpm-md repositories with libsolv and derive the build-dependency graph (shell).

Any number of repositories, binary and source, are read with libsolv:
``primary`` (compressed with gz, xz or zst as libsolv supports), checked against
the checksum ``repomd.xml`` gives, and ``filelists`` only when a file dependency
names a path ``primary`` does not list, so file BuildRequires resolve. An edge
``S -> T`` means a BuildRequires of source package S is provided by a binary whose
``sourcerpm`` is T. Two depths:

- ``direct``: the providers of each BuildRequires (every provider counts, so
  each alternative of a rich ``(a or b)`` and each provider of a virtual name
  adds an edge); distance 1.
- ``buildroot``: everything libsolv installs to satisfy the BuildRequires, i.e.
  the buildroot closure, resolved per package with libsolv's solver as Koschei
  does. The distance is the number of requires hops from the BuildRequires
  (1 = a direct provider).

A repository whose repodata has ``modules`` is read as dnf reads it (see
:mod:`discomy.planning.modular_repos`): packages of module streams that are not
active (not the default, not enabled with ``module_streams``) are hidden, and
so are non-modular packages named like a package of an active stream; libsolv
then sees only the rest (its "considered" packages), so hidden packages provide
nothing and are not rebuilt.

BuildRequires nobody provides are reported per package (``graph.unresolved``),
not fatal; so are buildroots libsolv cannot install (``graph.uninstallable``).
Repositories without binaries built from the sources are an error: every plan
over them would be empty. The derived graph is cached under ``cache_dir`` (see
:mod:`discomy.planning.cache`) keyed by the checksums of every ``repomd.xml``, so a fresh
process loads a whole distribution in a fraction of a second after the first time.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from discomy.planning.graph import BuildGraph
from discomy.planning.rpmmd import (
    RepodataError,
    default_cache_dir,
    repomd_entries,
    repomd_path,
    verified,
)

log = logging.getLogger(__name__)

DEPTHS = ("direct", "buildroot")
SOURCE_ARCHES = ("src", "nosrc")
CACHE_FORMAT = 7
SOLV_FORMAT = 1


def cache_key(repo_dirs: Sequence[Path], depth: str, arch: str,
              module_streams: Sequence[tuple] = ()) -> str:
    streams = ",".join(f"{n}:{s}" for n, s in sorted(module_streams))
    digest = hashlib.sha256(f"{CACHE_FORMAT}:{depth}:{arch}:{streams}".encode())
    for repo_dir in repo_dirs:
        digest.update(repomd_path(repo_dir).read_bytes())
    return digest.hexdigest()[:32]


def load_graph(repo_dirs: Sequence, depth: str = "direct", cache_dir: Optional[os.PathLike] = None,
               arch: str = "x86_64", use_cache: bool = True,
               module_streams: Sequence[str] = ()) -> BuildGraph:
    """The build-dependency graph of the source packages in ``repo_dirs`` (directories,
    or http(s) URLs mirrored into ``cache_dir``); ``module_streams`` (``NAME:STREAM``)
    enables module streams of modular repositories besides their defaults."""
    if depth not in DEPTHS:
        raise RepodataError(f"unknown depth {depth!r}: use one of {', '.join(DEPTHS)}")
    if not repo_dirs:
        raise RepodataError("no repository given: pass at least one --repo DIR")
    from discomy.planning import cache
    from discomy.planning.modular_repos import ModularError, parse_stream_option
    from discomy.planning.remote_repos import local_repos

    try:
        enabled = [parse_stream_option(s) for s in module_streams]
    except ModularError as exc:
        raise RepodataError(str(exc)) from None
    if len(dict(enabled)) != len(enabled):
        raise RepodataError("--module-stream names a module twice: one stream per module")
    dirs = local_repos(repo_dirs, cache_dir)
    key = cache_key(dirs, depth, arch, enabled)
    directory = cache.usable_dir(cache_dir or default_cache_dir()) if use_cache else None
    cache_file = directory / f"graph-{key}.npz" if directory else None
    if cache_file:
        graph = cache.read_graph(cache_file, key)
        if graph is not None:
            return graph
    graph = _build_graph(dirs, depth, arch, directory, enabled)
    if cache_file:
        cache.write_graph(cache_file, key, graph)
    return graph


# -- libsolv ---------------------------------------------------------------

# Below this much compressed primary to parse, a helper process costs more than it saves.
PARALLEL_MIN_BYTES = 2 * 1024 * 1024

# A helper process: parse one primary with libsolv and write libsolv's own .solv. Exit
# status 3 means the metadata is bad (the message says how); anything else is a helper
# that could not run, and the repository is then parsed in-process.
_PARSE_TO_SOLV = """
import sys, solv
arch, xml, out = sys.argv[1:]
pool = solv.Pool()
pool.setdisttype(solv.Pool.DISTTYPE_RPM)
pool.setarch(arch)
repo = pool.add_repo(xml)
f = solv.xfopen(xml)
if f is None:
    sys.stderr.write("cannot open (unsupported compression?)")
    sys.exit(3)
ok = repo.add_rpmmd(f, None, 0)
f.close()
if not ok:
    sys.stderr.write("corrupt rpm-md metadata: " + pool.errstr)
    sys.exit(3)
w = solv.xfopen(out, "w")
if w is None or not repo.write(w) or not w.close():
    sys.exit("cannot write " + out)
"""


def open_pool(repo_dirs: Sequence[Path], arch: str = "x86_64",
              solv_cache: Optional[Path] = None, module_streams: Sequence[tuple] = (),
              hidden: Optional[set] = None):
    """A libsolv pool with every repository's primary loaded, and its filelists when a
    file dependency needs them.

    With ``solv_cache`` (a trusted cache directory) a repository is read from libsolv's
    own ``.solv`` copy when there is one. When two or more repositories are to be parsed
    from XML, the first is parsed here while helper processes parse the others at the
    same time (libsolv holds the GIL while it parses), each writing a ``.solv`` that is
    then loaded and kept in the cache. A repository parsed here is kept only the second
    time it is parsed (writing costs a tenth of a parse, worth it only for a repository
    that comes back, e.g. one that did not change when another did). Either way the
    repositories enter the pool in the order given.

    Modular repositories are filtered as dnf filters them, with ``module_streams``
    (``(name, stream)`` pairs) enabled; the ids of the solvables hidden are added to
    ``hidden`` when given."""
    import solv

    pool = solv.Pool()
    # Debian's libsolv defaults to dpkg semantics; rpm-md needs rpm's (EVR order, arches).
    if not pool.setdisttype(solv.Pool.DISTTYPE_RPM):
        raise RepodataError("this libsolv was built without rpm support")
    pool.setarch(arch)
    todo = []
    for repo_dir in repo_dirs:
        repomd = repomd_path(repo_dir)
        entries = repomd_entries(repomd)
        if "primary" not in entries:
            raise RepodataError(f"{repomd} lists no primary metadata")
        copy = None
        if solv_cache is not None:
            digest = hashlib.sha256(f"{SOLV_FORMAT}:".encode() + repomd.read_bytes())
            copy = solv_cache / f"repo-{digest.hexdigest()[:32]}.solv"
        todo.append((repo_dir, entries, copy, _has_solv_copy(copy)))
    loaded = []
    with _Helpers(arch, solv_cache) as helpers:
        to_parse = [(i, d, e) for i, (d, e, _, has_copy) in enumerate(todo) if not has_copy]
        if len(to_parse) > 1 and len(os.sched_getaffinity(0)) > 1 \
                and sum(_size(d, e["primary"]) for _, d, e in to_parse) >= PARALLEL_MIN_BYTES:
            # the first is parsed here meanwhile: it enters the pool first anyway
            for i, repo_dir, entries in to_parse[1:]:
                helpers.start(i, repo_dir, entries["primary"])
        for i, (repo_dir, entries, copy, has_copy) in enumerate(todo):
            repo = pool.add_repo(str(repo_dir))
            if not (has_copy and _add_solv_copy(repo, copy)) and not helpers.add(i, repo, copy):
                _add_rpmmd(pool, repo, repo_dir, entries["primary"], 0)
                if copy is not None:
                    _write_solv_copy(repo, copy)
            loaded.append((repo_dir, repo, entries))
    # primary lists only some files (createrepo_c's cr_is_primary): the filelists, the
    # biggest part of a repository, are read only when a file dependency looks beyond
    # them, and only for repositories with binaries (a source package provides no file)
    wanted = (pool.id2str(i) for i in pool.addfileprovides_queue())
    if not all(_listed_in_primary(path) for path in wanted):
        for repo_dir, repo, entries in loaded:
            if "filelists" in entries and _holds_binaries(repo):
                _add_rpmmd(pool, repo, repo_dir, entries["filelists"],
                           solv.Repo.REPO_EXTEND_SOLVABLES)
        pool.addfileprovides()
    gone = _modular_hidden(pool, loaded, module_streams)
    if gone:
        # libsolv leaves packages outside the "considered" set out of whatprovides
        pool.set_considered_list([s.id for s in pool.solvables_iter() if s.id not in gone])
    elif module_streams:
        raise RepodataError("--module-stream needs a modular repository: none of these "
                            "repositories has modules metadata")
    if hidden is not None:
        hidden.update(gone)
    pool.createwhatprovides()
    return pool


def _modular_hidden(pool, loaded: list, module_streams: Sequence[tuple]) -> set:
    """The solvables dnf would hide, from the ``modules`` metadata of the repositories
    that have it (empty when none has)."""
    from discomy.planning.modular_repos import ModularError, modular_filter
    from discomy.planning.modulemd import read_index
    from discomy.planning.modules import ModuleError

    streams, defaults = [], {}
    for repo_dir, _, entries in loaded:
        if "modules" not in entries:
            continue
        path = repo_dir / entries["modules"][0]
        try:
            index = read_index(_read_modules(repo_dir, entries["modules"]), what=str(path))
        except ModuleError as exc:
            raise RepodataError(str(exc)) from None
        streams.extend(index.streams)
        for module, stream in index.defaults.items():
            defaults.setdefault(module, stream)     # the first repository's default wins
    if not streams:
        return set()
    try:
        found = modular_filter(streams, defaults, module_streams)
    except ModularError as exc:
        raise RepodataError(str(exc)) from None
    gone = set()
    for s in pool.solvables_iter():
        epoch, _, rest = s.evr.rpartition(":")
        if found.hides(s.name, f"{s.name}-{epoch or 0}:{rest}.{s.arch}"):
            gone.add(s.id)
    log.info("modular filtering: active streams %s; %d packages hidden",
             ", ".join(f"{n}:{v}" for n, v in found.active.items()) or "none", len(gone))
    return gone


def _read_modules(repo_dir: Path, entry: tuple) -> str:
    """A repository's ``modules.yaml`` as text, checked against repomd.xml and uncompressed
    (gz, xz and bz2 here; zst with the zstd tool, as Python has no zstd of its own)."""
    import bz2
    import gzip
    import lzma
    import subprocess

    verified(repo_dir, entry)
    path = repo_dir / entry[0]
    data = path.read_bytes()
    try:
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        elif path.suffix == ".xz":
            data = lzma.decompress(data)
        elif path.suffix == ".bz2":
            data = bz2.decompress(data)
        elif path.suffix == ".zst":
            proc = subprocess.run(["zstd", "-dcq", str(path)], capture_output=True, timeout=300)
            if proc.returncode:
                raise OSError(proc.stderr.decode(errors="replace").strip() or "zstd failed")
            data = proc.stdout
        return data.decode("utf-8")
    except FileNotFoundError:
        raise RepodataError(f"{path}: reading zst metadata needs the zstd tool") from None
    except (OSError, EOFError, lzma.LZMAError, UnicodeDecodeError) as exc:
        raise RepodataError(f"{path}: cannot be read: {exc}") from None


def _size(repo_dir: Path, entry: tuple) -> int:
    try:
        return (repo_dir / entry[0]).stat().st_size
    except OSError:
        return 0


class _Helpers:
    """Helper processes parsing primaries into ``.solv`` files at the same time; ended
    on the way out whatever happens."""

    def __init__(self, arch: str, solv_cache: Optional[Path]):
        self.arch, self.solv_cache = arch, solv_cache
        self.running: dict = {}     # position -> (process, path of its metadata, its .solv)
        self.scratch = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for proc, _, out in self.running.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            out.unlink(missing_ok=True)
        if self.scratch is not None:
            self.scratch.cleanup()

    def start(self, position: int, repo_dir: Path, entry: tuple) -> None:
        import subprocess
        import sys
        import tempfile

        path = repo_dir / entry[0]
        verified(repo_dir, entry)
        # into the cache when there is one (kept there once it loads), else scratch space
        if self.solv_cache is None and self.scratch is None:
            self.scratch = tempfile.TemporaryDirectory(prefix="discomy-solv-")
        fd, out = tempfile.mkstemp(dir=self.solv_cache or self.scratch.name,
                                   prefix=".repo-", suffix=".solv")
        os.close(fd)
        proc = subprocess.Popen([sys.executable, "-c", _PARSE_TO_SOLV, self.arch, str(path), out],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        self.running[position] = (proc, path, Path(out))

    def add(self, position: int, repo, copy: Optional[Path]) -> bool:
        """Load what the helper for the repository at ``position`` wrote (keeping it as
        ``copy``); False when there was no helper, or it could not run."""
        if position not in self.running:
            return False
        proc, path, out = self.running.pop(position)
        _, err = proc.communicate()
        lines = err.decode("utf-8", "replace").strip().splitlines()
        try:
            if proc.returncode == 3:
                raise RepodataError(f"{path}: {lines[-1] if lines else 'cannot be parsed'}")
            fd = os.open(out, os.O_RDONLY) if proc.returncode == 0 else None
            if fd is None or not _add_solv(repo, fd, None):
                log.warning("parsing %s here: the helper failed (%s)", path,
                            lines[-1] if lines else f"exit {proc.returncode}")
                return False
            if copy is not None:
                from discomy.planning import cache

                os.replace(out, copy)
                cache.prune(copy.parent, "repo-*.solv")
            return True
        finally:
            out.unlink(missing_ok=True)


def _listed_in_primary(path: str) -> bool:
    return path.startswith("/etc/") or "bin/" in path or path == "/usr/lib/sendmail"


def _holds_binaries(repo) -> bool:
    return any(s.arch not in SOURCE_ARCHES for s in repo.solvables_iter())


def _has_solv_copy(path: Optional[Path]) -> bool:
    from discomy.planning import cache

    fd = None if path is None else cache.open_trusted(path)
    if fd is None:
        return False
    os.close(fd)
    return True


def _add_solv_copy(repo, path: Path) -> bool:
    """Load the repository from its cached ``.solv`` copy; False when there is none to
    trust any more, or it does not load."""
    from discomy.planning import cache

    fd = cache.open_trusted(path)
    return fd is not None and _add_solv(repo, fd, path)


def _add_solv(repo, fd: int, path: Optional[Path]) -> bool:
    """Load the repository from a ``.solv`` file (``fd``, closed here; ``path`` is the
    cached copy, if it is one); False when it does not load (the repository is then
    read from its XML)."""
    import solv

    from discomy.planning import cache

    try:
        f = solv.xfopen_fd(str(path or "repo.solv"), fd)
    finally:
        os.close(fd)
    ok = f is not None and repo.add_solv(f)
    if f is not None:
        f.close()
    if not ok:
        if path is not None:
            log.warning("ignoring cached repository %s: %s", path, repo.pool.errstr)
        repo.empty()
        return False
    if path is not None:
        cache.touch(path)
    return True


def _write_solv_copy(repo, path: Path) -> None:
    """Keep the parsed repository at ``path``, the second time it is parsed: the first
    time leaves only a mark."""
    import solv

    from discomy.planning import cache

    seen = path.with_suffix(".seen")
    if not seen.exists():
        if cache.write_atomic(seen, lambda fd: None):
            cache.prune(path.parent, "repo-*.seen", keep=4 * cache.KEEP)
        return

    def write(fd):
        f = solv.xfopen_fd(str(path), fd, "w")
        if f is None or not repo.write(f) or not f.close():
            raise OSError(f"libsolv could not write the repository: {repo.pool.errstr}")

    if cache.write_atomic(path, write):
        cache.prune(path.parent, "repo-*.solv")


def _add_rpmmd(pool, repo, repo_dir: Path, entry: tuple, flags: int) -> None:
    import solv

    verified(repo_dir, entry)
    path = repo_dir / entry[0]
    f = solv.xfopen(str(path))
    if f is None:
        raise RepodataError(f"{path}: cannot open (unsupported compression?)")
    ok = repo.add_rpmmd(f, None, flags)
    f.close()
    if not ok:
        raise RepodataError(f"{path}: corrupt rpm-md metadata: {pool.errstr}")


def _build_graph(repo_dirs: Sequence[Path], depth: str, arch: str,
                 solv_cache: Optional[Path] = None,
                 module_streams: Sequence[tuple] = ()) -> BuildGraph:
    import solv

    hidden: set = set()
    pool = open_pool(repo_dirs, arch, solv_cache, module_streams, hidden)
    # per-solvable attributes read by id, in bulk: no solvable objects for the binaries
    lookup_id, lookup_num = pool.lookup_id, pool.lookup_num
    ids = np.arange(2, len(pool.solvables))     # 0 and 1 are libsolv's own
    arches = np.fromiter((lookup_id(i, solv.SOLVABLE_ARCH) for i in ids.tolist()),
                         dtype=np.int64, count=ids.size)
    is_source = np.zeros(ids.size, dtype=bool)
    for source_arch in SOURCE_ARCHES:
        is_source |= arches == (pool.str2id(source_arch, False) or -1)
    sources: dict = {}          # name id -> solvable (newest EVR wins)
    for sid in ids[is_source].tolist():
        if sid in hidden:
            continue
        s = pool.id2solvable(sid)
        old = sources.get(s.nameid)
        if old is None or s.evrcmp(old) > 0:
            sources[s.nameid] = s
    if not sources:
        raise RepodataError("the repositories hold no source packages (arch src): "
                            "pass the source repository too")
    chosen = sorted(sources.values(), key=lambda s: s.name)
    names = [s.name for s in chosen]
    n = len(names)

    # binary -> the source node it is built from (its sourcerpm's name, else its own)
    binary = ~is_source & (arches != 0)
    if hidden:
        binary &= ~np.isin(ids, np.fromiter(hidden, dtype=np.int64, count=len(hidden)))
    bin_ids = ids[binary].tolist()
    built_from = np.fromiter((lookup_id(i, solv.SOLVABLE_SOURCENAME)
                              or lookup_id(i, solv.SOLVABLE_NAME) for i in bin_ids),
                             dtype=np.int64, count=len(bin_ids))
    name_ids = np.asarray([s.nameid for s in chosen], dtype=np.int64)
    node_of_name = np.full(max(int(name_ids.max()), int(built_from.max(initial=0))) + 1, -1,
                           dtype=np.int64)
    node_of_name[name_ids] = np.arange(n)
    nodes = node_of_name[built_from]
    built = nodes >= 0
    node_of = np.full(len(pool.solvables), -1, dtype=np.int64)    # solvable id -> node
    node_of[np.asarray(bin_ids, dtype=np.int64)[built]] = nodes[built]
    _require_binaries(repo_dirs, len(bin_ids), int(built.sum()))
    sizes = np.fromiter((lookup_num(i, solv.SOLVABLE_DOWNLOADSIZE) for i in bin_ids),
                        dtype=np.int64, count=len(bin_ids))
    artifact = np.zeros(n, dtype=np.int64)
    np.add.at(artifact, nodes[built], sizes[built])
    arch_built = (arches[binary] != pool.str2id("noarch", False))[built]
    noarch = (np.bincount(nodes[built], minlength=n) > 0) & \
        (np.bincount(nodes[built][arch_built], minlength=n) == 0)

    uninstallable: dict = {}
    if depth == "direct":
        src, dst, dist, unresolved = _direct_edges(pool, chosen, node_of)
    else:
        src_of = {int(b): int(node_of[b]) for b in np.flatnonzero(node_of >= 0)}
        src, dst, dist, unresolved, uninstallable = _buildroot_edges(pool, chosen, src_of)
    return BuildGraph.from_edges(
        names, src, dst, dist,
        evrs=[s.evr for s in chosen],
        sizes=[s.lookup_num(solv.SOLVABLE_DOWNLOADSIZE) for s in chosen],
        artifact_sizes=artifact,
        noarch=noarch,
        unresolved=unresolved,
        uninstallable=uninstallable,
    )


def _require_binaries(repo_dirs: Sequence[Path], binaries: int, built_here: int) -> None:
    """Without binaries built from the sources no BuildRequires resolves, and every plan
    would silently be empty: refuse, naming what is missing."""
    where = ", ".join(str(d) for d in repo_dirs)
    if not binaries:
        raise RepodataError(f"no binary packages in {where}: pass the binary repository "
                            "too, or no BuildRequires can be resolved")
    if not built_here:
        raise RepodataError(f"the {binaries} binary packages in {where} are built from none "
                            "of these source packages: pass the binary repository built "
                            "from them")


def _is_rpmlib(dep_str: str) -> bool:
    return dep_str.startswith("rpmlib(")


def _build_requires(pool, s):
    import solv

    for dep in s.lookup_deparray(solv.SOLVABLE_REQUIRES):
        text = str(dep)
        if not _is_rpmlib(text):
            yield dep, text


def _direct_edges(pool, sources: list, node_of: np.ndarray):
    """Edges from each source node to the nodes whose binaries provide one of its
    BuildRequires (``node_of``: solvable id -> node, -1 for none), looked up once per
    distinct dependency."""
    import solv

    requires = [s.lookup_idarray(solv.SOLVABLE_REQUIRES) for s in sources]
    owner = np.repeat(np.arange(len(sources)), [len(r) for r in requires])
    dep_ids = np.fromiter(itertools.chain.from_iterable(requires), dtype=np.int64,
                          count=len(owner))
    distinct, which = _distinct(dep_ids)
    texts = [pool.dep2str(d) for d in distinct.tolist()]
    # per distinct dependency its providers; none at all makes it unresolvable
    providers = [() if _is_rpmlib(text) else [p.id for p in pool.whatprovides(dep)]
                 for dep, text in zip(distinct.tolist(), texts)]
    counts = np.asarray([len(p) for p in providers], dtype=np.int64)
    missing = (counts == 0) & np.asarray([not _is_rpmlib(t) for t in texts], dtype=bool)
    provider_nodes = node_of[np.fromiter(itertools.chain.from_iterable(providers),
                                         dtype=np.int64, count=int(counts.sum()))]
    # every (requirement, provider) pair, kept where the provider is built from a source
    per_requirement = counts[which]
    pair = np.repeat(np.cumsum(counts)[which] - per_requirement, per_requirement) \
        + _ranges(per_requirement)
    src = np.repeat(owner, per_requirement)
    dst = provider_nodes[pair]
    keep = dst >= 0
    src, dst = src[keep], dst[keep]
    unresolved: dict = {}
    for k in np.flatnonzero(missing[which]).tolist():
        name = sources[owner[k]].name
        unresolved[name] = unresolved.get(name, ()) + (texts[which[k]],)
    # sorted: a .solv file keeps dependencies in its own order, not the XML's
    unresolved = {name: tuple(sorted(deps)) for name, deps in unresolved.items()}
    return src, dst, np.ones(len(src), dtype=np.int16), unresolved


def _distinct(values: np.ndarray) -> tuple:
    """``(distinct, inverse)`` like ``np.unique(values, return_inverse=True)`` (in another
    order), without sorting: libsolv ids are small numbers, or for a relation a small
    number with the sign bit of a 32-bit Id set."""
    if not values.size:
        return values, values
    relation = values < 0
    key = (values & 0x7FFFFFFF) * 2 + relation
    seen = np.zeros(int(key.max()) + 1, dtype=bool)
    seen[key] = True
    distinct_keys = np.flatnonzero(seen)
    slot = np.empty(seen.size, dtype=np.int64)
    slot[distinct_keys] = np.arange(distinct_keys.size)
    return (distinct_keys >> 1) - (distinct_keys & 1) * 2**31, slot[key]


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """``0..len-1`` for each length, concatenated."""
    total = int(lengths.sum())
    starts = np.cumsum(lengths) - lengths
    return np.arange(total) - np.repeat(starts, lengths)


class _ProviderChoice:
    """One provider per requirement, chosen the same way every time, with caches.

    Used when libsolv cannot install a buildroot as a whole: the walk then follows
    one plausible provider per requires (the one named like the dependency, else the
    first by name) instead of the solver's choice, which keeps the closure the size
    of a buildroot rather than of every alternative.
    """

    def __init__(self, pool, binary_ids):
        self.pool = pool
        self.binary_ids = binary_ids
        self._choice: dict = {}
        self._requires: dict = {}

    def provider(self, dep) -> Optional[int]:
        key = dep.id
        if key not in self._choice:
            providers = [p for p in self.pool.whatprovides(dep) if p.id in self.binary_ids]
            name = str(dep).split(" ", 1)[0]
            providers.sort(key=lambda p: (p.name != name, p.name, p.id))
            self._choice[key] = providers[0].id if providers else None
        return self._choice[key]

    def requires(self, sid: int) -> tuple:
        if sid not in self._requires:
            import solv

            chosen = (self.provider(dep) for dep in
                      self.pool.solvables[sid].lookup_deparray(solv.SOLVABLE_REQUIRES))
            self._requires[sid] = tuple(sorted({c for c in chosen if c is not None}))
        return self._requires[sid]

    def closure(self, direct: Iterable[int]) -> dict:
        return _hops(direct, self.requires)


def _hops(direct: Iterable[int], neighbours) -> dict:
    """Breadth-first hop count from ``direct`` (1) over ``neighbours(id)``."""
    distance = {sid: 1 for sid in direct}
    frontier = list(distance)
    hop = 1
    while frontier:
        hop += 1
        nxt = []
        for sid in frontier:
            for pid in neighbours(sid):
                if pid not in distance:
                    distance[pid] = hop
                    nxt.append(pid)
        frontier = nxt
    return distance


def _buildroot_edges(pool, sources: list, src_of: dict):
    """Per source package, let libsolv's solver pick the buildroot, as Koschei does.

    A buildroot the solver cannot install is reported (``uninstallable``) and
    approximated with :class:`_ProviderChoice`.
    """
    import solv

    src, dst, dist, unresolved, uninstallable = [], [], [], {}, {}
    flags = solv.Job.SOLVER_INSTALL | solv.Job.SOLVER_SOLVABLE_PROVIDES
    chooser = _ProviderChoice(pool, src_of)
    for node, source in enumerate(sources):
        name = source.name
        jobs, missing, direct, chosen = [], [], set(), set()
        # in text order: a .solv file keeps dependencies in its own order, and the
        # solver's problems follow the order of the jobs
        for dep, text in sorted(_build_requires(pool, source), key=lambda pair: pair[1]):
            providers = [p for p in pool.whatprovides(dep) if p.id in src_of]
            if not providers:
                missing.append(text)
                continue
            direct.update(p.id for p in providers)
            chosen.add(chooser.provider(dep))
            jobs.append(pool.Job(flags, dep.id))
        if missing:
            unresolved[name] = tuple(sorted(missing))
        if not jobs:
            continue
        solver = pool.Solver()
        problems = solver.solve(jobs)
        if problems:
            uninstallable[name] = tuple(sorted(str(p) for p in problems))
            distance = chooser.closure(chosen)
        else:
            installed = {s.id: s for s in solver.transaction().newsolvables()}
            distance = _requires_distance(pool, installed, direct)
        best: dict = {}
        for sid, d in distance.items():
            t = src_of.get(sid)
            if t is not None and (t not in best or d < best[t]):
                best[t] = d
        for t, d in best.items():
            src.append(node)
            dst.append(t)
            dist.append(d)
    return (np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64),
            np.asarray(dist, dtype=np.int16), unresolved, uninstallable)


def _requires_distance(pool, installed: dict, direct: set) -> dict:
    """Hops from the BuildRequires to every binary the solver installed (1 = direct provider)."""
    import solv

    def installed_providers(sid):
        for dep in installed[sid].lookup_deparray(solv.SOLVABLE_REQUIRES):
            for p in pool.whatprovides(dep):
                if p.id in installed:
                    yield p.id

    distance = _hops((sid for sid in direct if sid in installed), installed_providers)
    # anything the solver added that no requires chain reaches (e.g. a rich dep's condition)
    farthest = max(distance.values(), default=0) + 1
    for sid in installed:
        distance.setdefault(sid, farthest)
    return distance
