"""Modulemd documents through libmodulemd (``gi.repository.Modulemd``): a parser and
writer, never YAML handled by hand.

- :func:`parse`: a modulemd v2 (``document: modulemd``) or packager v3
  (``document: modulemd-packager``) document to a
  :class:`~discomy.planning.modules.ModuleSource`. A document libmodulemd refuses,
  or that fails its validation, raises
  :class:`~discomy.planning.modules.ModuleError` with libmodulemd's own sentence
  (with its ``[line L col C]`` where it gives one) as one line. v2 documents are
  read strictly, so an unknown key is an error with its line, as in v3;
- :func:`render`: the modulemd v2 of one build (one
  :class:`~discomy.planning.modules.Expansion`): its context, version, fixed
  requirements, and each component's repository and commit;
- :func:`final`: that document once built: the rpm artifacts, buildonly
  components' rpms filtered, and each component's NVR and commit in ``xmd``;
- :func:`read_index`: a repository's ``modules.yaml`` (streams with their
  artifacts, and the default streams), for the planner's modular filtering.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from discomy.planning.modules import (
    Component,
    Expansion,
    ModuleError,
    ModuleSource,
    Requirements,
    check_names,
)

MAX_LINE = 300


def _modulemd():
    import gi

    try:
        gi.require_version("Modulemd", "2.0")
        from gi.repository import GLib, Modulemd
    except (ImportError, ValueError) as exc:
        raise ModuleError(f"libmodulemd is not installed ({exc}): install "
                          f"gir1.2-modulemd-2.0 and python3-gi") from None
    return Modulemd, GLib


def _check_text(text, what: str) -> None:
    """What libmodulemd can be handed: text, valid UTF-8, without NUL (a JSON body may
    carry a lone surrogate, which Python holds and UTF-8 cannot)."""
    if not isinstance(text, str):
        raise ModuleError(f"{what}: not text")
    if "\x00" in text:
        raise ModuleError(f"{what}: contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ModuleError(f"{what}: not UTF-8 text (a lone surrogate at character "
                          f"{exc.start})") from None


def _one_line(text: str) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= MAX_LINE else line[:MAX_LINE - 3] + "..."


def _syntax_location(text: str) -> str:
    """Where a YAML syntax error is, for libmodulemd's "Parser error", which does not
    say (libyaml knows; libmodulemd drops it): only the position, from PyYAML's parse
    of the same text; the document is still read by libmodulemd alone."""
    import yaml

    try:
        for _ in yaml.parse(text, Loader=yaml.SafeLoader):
            pass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            return f" [line {mark.line + 1} col {mark.column + 1}: {exc.problem}]"
    except yaml.YAMLError:
        pass
    return ""


def _error(exc, text: str, what: str) -> ModuleError:
    message = str(getattr(exc, "message", exc))
    if message.endswith("Parser error"):
        message += _syntax_location(text)
    return ModuleError(_one_line(f"{what}: {message}"))


def _read(text: str, name: Optional[str], stream: Optional[str], what: str):
    """The libmodulemd object of ``text`` (PackagerV3 or ModuleStreamV2), its name and
    stream filled in from ``name`` and ``stream`` where it gives none, and checked
    against them where it does."""
    Modulemd, GLib = _modulemd()
    _check_text(text, what)
    try:
        obj = Modulemd.read_packager_string(text, None, None)
    except GLib.Error as exc:
        raise _error(exc, text, what) from None
    given = (obj.get_module_name(), obj.get_stream_name())
    if (name and given[0] and given[0] != name) or (stream and given[1] and given[1] != stream):
        raise ModuleError(_one_line(
            f"{what}: the document is {given[0] or '?'}:{given[1] or '?'}, but it was "
            f"submitted as {name or given[0]}:{stream or given[1]}"))
    if isinstance(obj, Modulemd.PackagerV3):
        if not given[0] and name:
            obj.set_module_name(name)
        if not given[1] and stream:
            obj.set_stream_name(stream)
        return obj
    try:
        # strictly, as packager v3 documents are read: an unknown key is an error
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            obj = Modulemd.ModuleStream.read_string(text, True, None if given[0] else name,
                                                    None if given[1] else stream)
    except GLib.Error as exc:
        raise _error(exc, text, what) from None
    return obj


def _streams(obj, what: str) -> list:
    """The v2 streams of a document (one per v3 configuration), each validated."""
    Modulemd, GLib = _modulemd()
    try:
        if isinstance(obj, Modulemd.PackagerV3):
            index = obj.convert_to_index()
            streams = [s for n in index.get_module_names()
                       for s in index.get_module(n).get_all_streams()]
        else:
            streams = [obj]
        for s in streams:
            s.validate()
    except GLib.Error as exc:
        raise _error(exc, "", what) from None
    return streams


def _component(c) -> Component:
    return Component(name=c.get_name(), rationale=c.get_rationale() or "",
                     repository=c.get_repository() or None, ref=c.get_ref() or None,
                     buildorder=int(c.get_buildorder() or 0),
                     buildafter=tuple(c.get_buildafter() or ()),
                     arches=tuple(c.get_arches() or ()), buildonly=bool(c.get_buildonly()))


def parse(text: str, name: Optional[str] = None, stream: Optional[str] = None,
          what: str = "modulemd") -> ModuleSource:
    """``text`` as a :class:`ModuleSource`; ``name`` and ``stream`` (a module's repository
    and branch) fill in what the document leaves out and must agree with what it gives.
    ``what`` names the document in errors (a file name, an SCM URL)."""
    Modulemd, _ = _modulemd()
    obj = _read(text, name, stream, what)
    streams = _streams(obj, what)
    first = streams[0]
    module, branch = first.get_module_name(), first.get_stream_name()
    if not module or not branch:
        raise ModuleError(f"{what}: the document names no module "
                          f"{'name' if not module else 'stream'}, and none was given")
    if first.get_module_component_names():
        raise ModuleError(f"{what}: module components "
                          f"({', '.join(first.get_module_component_names())}) are not built "
                          f"here: build each module on its own")
    components = tuple(_component(first.get_rpm_component(n))
                       for n in sorted(first.get_rpm_component_names()))
    if isinstance(obj, Modulemd.PackagerV3):
        requirements = []
        for ctx in obj.get_build_config_contexts_as_strv():
            config = obj.get_build_config(ctx)
            build = {m: (config.get_buildtime_requirement_stream(m),)
                     for m in config.get_buildtime_modules_as_strv()}
            run = {m: (config.get_runtime_requirement_stream(m),)
                   for m in config.get_runtime_modules_as_strv()}
            build["platform"] = run["platform"] = (config.get_platform(),)
            requirements.append(Requirements(build, run, ctx))
        return check_names(ModuleSource(module, branch, 3, first.get_summary() or "",
                                        components, tuple(requirements)), what)
    static = bool(obj.is_static_context())
    requirements = tuple(
        Requirements({m: tuple(d.get_buildtime_streams(m)) for m in d.get_buildtime_modules()},
                     {m: tuple(d.get_runtime_streams(m)) for m in d.get_runtime_modules()},
                     obj.get_context() if static else None)
        for d in obj.get_dependencies())
    return check_names(ModuleSource(module, branch, 2, obj.get_summary() or "", components,
                                    requirements, version=int(obj.get_version() or 0),
                                    static_context=static), what)


def render(text: str, source: ModuleSource, expansion: Expansion, version: int,
           components: Mapping[str, tuple] = {}) -> str:
    """The modulemd v2 document of one build of ``text`` (parsed before as ``source``):
    ``expansion``'s context and requirements, ``version``, and per component
    ``(repository, commit)`` from ``components``."""
    Modulemd, GLib = _modulemd()
    obj = _read(text, source.name, source.stream, "modulemd")
    streams = _streams(obj, "modulemd")
    if isinstance(obj, Modulemd.PackagerV3):
        chosen = next(s for s in streams if s.get_context() == expansion.context)
    else:
        chosen = streams[0].copy(source.name, source.stream)
        chosen.clear_dependencies()
        deps = Modulemd.Dependencies.new()
        for module, stream in sorted(expansion.buildrequires.items()):
            deps.add_buildtime_stream(module, stream)
        for module, streams_ in sorted(expansion.requires.items()):
            if streams_:
                for stream in streams_:
                    deps.add_runtime_stream(module, stream)
            else:
                deps.set_empty_runtime_dependencies_for_module(module)
        chosen.add_dependencies(deps)
    chosen.set_context(expansion.context)
    chosen.set_version(int(version))
    for name, (repository, commit) in components.items():
        rpm = chosen.get_rpm_component(name)
        if repository:
            rpm.set_repository(repository)
        if commit:
            rpm.set_ref(commit)
    return _dump(chosen, "modulemd")


def final(document: str, artifacts: Sequence[str], built: Mapping[str, Mapping[str, str]],
          buildonly_rpms: Sequence[str] = (), xmd: Optional[Mapping] = None) -> str:
    """``document`` (from :func:`render`) once built: ``artifacts`` (NEVRAs of the rpms
    it ships), ``buildonly_rpms`` (names of buildonly components' rpms) filtered out as
    MBS filters them, and under ``xmd.discomy`` what each component was built as
    (``built``: name -> {"nvr", "ref", ...}) plus ``xmd``."""
    stream = _one_stream(document)
    for nevra in sorted(set(artifacts)):
        stream.add_rpm_artifact(nevra)
    for rpm in sorted(set(buildonly_rpms)):
        stream.add_rpm_filter(rpm)
    data = dict(xmd or {})
    data["components"] = {name: dict(values) for name, values in sorted(built.items())}
    stream.set_xmd({"discomy": _variant_ready(data)})
    return _dump(stream, "the final modulemd")


def _variant_ready(value):
    """``value`` in the types libmodulemd's xmd takes (text, booleans, lists, mappings):
    numbers become text."""
    if isinstance(value, dict):
        return {str(k): _variant_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_variant_ready(v) for v in value]
    if isinstance(value, bool):
        return value
    return "" if value is None else str(value)


def _one_stream(document: str):
    Modulemd, GLib = _modulemd()
    _check_text(document, "modulemd")
    index = Modulemd.ModuleIndex.new()
    try:
        ok, failures = index.update_from_string(document, True)
    except GLib.Error as exc:
        raise _error(exc, document, "modulemd") from None
    if failures:
        raise _error(failures[0].get_gerror(), document, "modulemd")
    streams = [s for n in index.get_module_names() for s in index.get_module(n).get_all_streams()]
    if len(streams) != 1:
        raise ModuleError(f"modulemd: {len(streams)} module streams, expected one")
    return streams[0]


def _dump(stream, what: str) -> str:
    Modulemd, GLib = _modulemd()
    index = Modulemd.ModuleIndex.new()
    try:
        stream.validate()
        index.add_module_stream(stream)
        return index.dump_to_string()
    except GLib.Error as exc:
        raise _error(exc, "", what) from None


def nsvc_of(document: str) -> str:
    return _one_stream(document).get_nsvc()


def artifacts_of(document: str) -> list:
    """The rpm artifacts (NEVRAs) a modulemd v2 document lists."""
    return list(_one_stream(document).get_rpm_artifacts())


# ---- modules.yaml of a repository --------------------------------------------------------

@dataclass(frozen=True)
class StreamInfo:
    """A module stream a repository's ``modules.yaml`` lists."""
    name: str
    stream: str
    version: int
    context: str
    artifacts: tuple        # NEVRAs of its rpms
    requires: Mapping[str, tuple]


@dataclass(frozen=True)
class ModulesIndex:
    streams: tuple          # of StreamInfo
    defaults: Mapping[str, str]     # module -> its default stream


def read_index(text: str, what: str = "modules.yaml") -> ModulesIndex:
    """A repository's ``modules.yaml`` (streams, defaults); a document libmodulemd cannot
    read is a :class:`ModuleError` naming ``what``."""
    Modulemd, GLib = _modulemd()
    _check_text(text, what)
    index = Modulemd.ModuleIndex.new()
    try:
        ok, failures = index.update_from_string(text, False)
    except GLib.Error as exc:
        raise _error(exc, text, what) from None
    if failures:
        raise _error(failures[0].get_gerror(), text, what)
    streams = []
    for name in index.get_module_names():
        for s in index.get_module(name).get_all_streams():
            requires: dict = {}
            for d in s.get_dependencies():
                for m in d.get_runtime_modules():
                    requires[m] = tuple(sorted(set(requires.get(m, ()))
                                               | set(d.get_runtime_streams(m))))
            streams.append(StreamInfo(name, s.get_stream_name() or "", int(s.get_version() or 0),
                                      s.get_context() or "", tuple(s.get_rpm_artifacts()),
                                      requires))
    return ModulesIndex(tuple(streams), dict(index.get_default_streams() or {}))


def index_text(streams: Sequence[StreamInfo], defaults: Mapping[str, str] = {},
               license: str = "MIT") -> str:
    """A ``modules.yaml`` of ``streams`` and the ``defaults`` (module -> default stream),
    as a repository carries it (what repo2module makes of a repository)."""
    Modulemd, GLib = _modulemd()
    index = Modulemd.ModuleIndex.new()
    try:
        for s in streams:
            stream = Modulemd.ModuleStreamV2.new(s.name, s.stream)
            stream.set_version(int(s.version))
            stream.set_context(s.context)
            stream.set_summary(f"{s.name} {s.stream}")
            stream.set_description(f"The {s.stream} stream of {s.name}.")
            stream.add_module_license(license)
            if s.requires:
                deps = Modulemd.Dependencies.new()
                for module, wanted in sorted(s.requires.items()):
                    for w in wanted:
                        deps.add_runtime_stream(module, w)
                stream.add_dependencies(deps)
            for nevra in s.artifacts:
                stream.add_rpm_artifact(nevra)
            index.add_module_stream(stream)
        for module, default in sorted(defaults.items()):
            d = Modulemd.DefaultsV1.new(module)
            d.set_default_stream(default)
            index.add_defaults(d)
        return index.dump_to_string()
    except GLib.Error as exc:
        raise _error(exc, "", "modules.yaml") from None
