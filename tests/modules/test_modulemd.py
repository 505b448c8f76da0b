"""Modulemd through libmodulemd for real: v2 and packager v3 documents, stream expansion,
bad documents refused with libmodulemd's own sentence on one line, and the order the
components build in (batches, or a buildafter DAG ordered by the planner core)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moduledocs import V2, V3

from discomy.planning import modulemd as mmd
from discomy.planning.modules import (
    Component,
    ModuleError,
    expand,
    module_version,
    narrow,
    order_components,
    platform_version,
)


def test_a_v2_document_gives_its_components_and_dependencies():
    source = mmd.parse(V2)
    assert (source.name, source.stream, source.mdversion) == ("demo", "1.0", 2)
    corelib, parsekit = source.components
    assert corelib == Component("corelib", "bottom", "file:///srv/git/corelib.git", "main")
    assert parsekit.buildafter == ("corelib",) and parsekit.buildonly
    assert parsekit.repository is None
    (req,) = source.requirements
    assert req.buildrequires == {"platform": ("el8", "el9")}


def test_a_packager_v3_document_gives_one_requirement_set_per_configuration():
    source = mmd.parse(V3)
    assert source.mdversion == 3
    assert [c.buildorder for c in source.components] == [1, 2]
    assert source.component("parsekit").arches == ("aarch64", "x86_64")
    by_context = {r.context: r for r in source.requirements}
    assert by_context["CTX1"].buildrequires == {"llvm": ("rolling",), "platform": ("el9",)}
    assert by_context["CTX2"].requires == {"platform": ("el8",)}


def test_stream_expansion_makes_one_context_per_buildrequired_stream():
    expansions = expand(mmd.parse(V2))
    assert sorted(e.buildrequires["platform"] for e in expansions) == ["el8", "el9"]
    # requires naming the same streams as buildrequires narrow to the one built against
    assert all(e.requires == {"platform": (e.platform,)} for e in expansions)
    assert len({e.context for e in expansions}) == 2
    assert all(len(e.context) == 8 for e in expansions)
    # the same requirements always give the same contexts
    assert [e.context for e in expand(mmd.parse(V2))] == [e.context for e in expansions]


def test_every_stream_and_excluded_streams_come_from_the_known_streams():
    text = V2.replace("platform: [el9, el8]\n      requires", "platform: [el9]\n        "
                      "llvm: []\n      requires")
    both = expand(mmd.parse(text), {"llvm": ["15", "rolling"]})
    assert sorted(e.buildrequires["llvm"] for e in both) == ["15", "rolling"]
    minus = expand(mmd.parse(text.replace("llvm: []", "llvm: [-15]")),
                   {"llvm": ["15", "rolling"]})
    assert [e.buildrequires["llvm"] for e in minus] == ["rolling"]
    with pytest.raises(ModuleError, match="no stream of llvm is known"):
        expand(mmd.parse(text), {})


def test_v3_contexts_are_the_ones_the_document_gives_and_can_be_narrowed():
    expansions = expand(mmd.parse(V3))
    assert [e.context for e in expansions] == ["CTX1", "CTX2"]
    assert [e.context for e in narrow(expansions, ["CTX2"])] == ["CTX2"]
    with pytest.raises(ModuleError, match="no context CTX9 .*CTX1, CTX2"):
        narrow(expansions, ["CTX9"])


@pytest.mark.parametrize("text, words", [
    (V2.replace("  summary: Demo module\n", "  summary: Demo module\n  colour: red\n"),
     ["Unexpected key in data: colour", "[line "]),
    (V3.replace("  summary: Demo module\n", "  summary: Demo module\n  colour: red\n"),
     ["Unexpected key in packager v3 document: colour", "[line "]),
    (V2.replace("buildafter: [corelib]", "buildorder: soon"),
     ["Failed to parse buildorder", "soon", "[line "]),
    (V2.replace('stream: "1.0"', 'stream: ["1.0"'), ["Parser error", "[line 6 col 3"]),
    (V2.replace("  summary: Demo module\n", ""), ["Summary is missing"]),
    (V2.replace("        ref: main\n      parsekit", "        ref: main\n        buildorder: 1\n"
                "      parsekit"), ["Cannot mix buildorder and buildafter"]),
    (V2.replace("buildafter: [corelib]", "buildafter: [nothere]"),
     ["Buildafter 'nothere' not found in components list"]),
    ("", ["YAML didn't begin with STREAM_START"]),
    ("hello", ["Document did not start with a mapping", "[line 1 col 1]"]),
    ("document: modulemd-defaults\nversion: 1\ndata:\n  module: x\n  stream: y\n",
     ["Expected `document: modulemd[-stream] or modulemd-packager`"]),
    (V2 + "---\n" + V2, ["more than a single subdocument"]),
    (V2.replace("name: demo", "name: ../../etc"), ["module name '../../etc' is not a name"]),
    (V2.replace('stream: "1.0"', 'stream: "1 0"'), ["stream '1 0' is not a name"]),
    (V2.replace("      corelib:\n", "      -corelib:\n").replace("[corelib]", "[-corelib]"),
     ["component '-corelib' is not a name"]),
])
def test_a_bad_document_is_refused_with_libmodulemds_sentence_on_one_line(text, words):
    with pytest.raises(ModuleError) as err:
        mmd.parse(text, what="demo.yaml")
    message = str(err.value)
    assert message.startswith("demo.yaml: ") and "\n" not in message, message
    assert all(w in message for w in words), message


def test_a_document_for_another_module_than_its_repository_is_refused():
    with pytest.raises(ModuleError, match="the document is demo:1.0, but it was submitted "
                                          "as other:1.0"):
        mmd.parse(V2, "other", "1.0")
    # a document without name and stream takes them from its repository and branch
    bare = V2.replace("  name: demo\n", "").replace('  stream: "1.0"\n', "")
    source = mmd.parse(bare, "fromrepo", "rolling")
    assert (source.name, source.stream) == ("fromrepo", "rolling")


def test_a_buildafter_cycle_is_refused_with_the_cycle_named():
    components = [Component("a", buildafter=("c",)), Component("b", buildafter=("a",)),
                  Component("c", buildafter=("b",)), Component("d", buildafter=("a",))]
    with pytest.raises(ModuleError, match=r"buildafter forms a cycle: a -> c -> b -> a"):
        order_components(components)
    # libmodulemd itself lets such a document through: the planner core is what refuses it
    text = V2.replace("        ref: main\n      parsekit",
                      "        ref: main\n        buildafter: [parsekit]\n      parsekit")
    source = mmd.parse(text)
    with pytest.raises(ModuleError, match="cycle: corelib -> parsekit -> corelib"):
        order_components(source.components)


def test_buildorder_gives_batches_each_waiting_for_the_one_before():
    order = order_components([Component("c", buildorder=10), Component("a", buildorder=1),
                              Component("b", buildorder=1), Component("z", buildorder=5)])
    assert order.kind == "batches" and order.release == "per-tier"
    assert order.tiers == (("a", "b"), ("z",), ("c",))
    assert order.deps == {"a": (), "b": (), "z": ("a", "b"), "c": ("z",)}
    assert order.remaining["a"] > order.remaining["z"] > order.remaining["c"]


def test_buildafter_gives_a_dag_whose_longest_chain_goes_first():
    order = order_components([Component("lib"), Component("tool", buildafter=("lib",)),
                              Component("app", buildafter=("tool",)), Component("doc")])
    assert order.kind == "dag" and order.release == "per-edge"
    assert order.tiers == (("doc", "lib"), ("tool",), ("app",))
    assert order.deps["app"] == ("tool",) and order.deps["doc"] == ()
    assert order.remaining["lib"] == 3 and order.remaining["doc"] == 1


def test_the_module_build_document_has_its_context_version_and_commits():
    source = mmd.parse(V2)
    el9 = next(e for e in expand(source) if e.platform == "el9")
    version = module_version("20261204120000", "el9")
    text = mmd.render(V2, source, el9, version,
                      {"corelib": ("file:///srv/git/corelib.git", "a" * 40),
                       "parsekit": ("file:///srv/git/parsekit.git", "b" * 40)})
    again = mmd.parse(text)
    assert again.version == version == 920261204120000
    assert again.requirements[0].buildrequires == {"platform": ("el9",)}
    assert again.component("parsekit").ref == "b" * 40
    assert mmd.nsvc_of(text) == f"demo:1.0:{version}:{el9.context}"
    final = mmd.final(text, ["corelib-0:1.2-1.module+el9+1+x.x86_64",
                             "corelib-0:1.2-1.module+el9+1+x.src"],
                      {"corelib": {"nvr": "corelib-1.2-1.module+el9+1+x"}}, ["parsekit-devel"])
    assert mmd.artifacts_of(final) == ["corelib-0:1.2-1.module+el9+1+x.src",
                                       "corelib-0:1.2-1.module+el9+1+x.x86_64"]
    assert "parsekit-devel" in final and "corelib-1.2-1.module+el9+1+x" in final


@pytest.mark.parametrize("stream, prefix", [("el9", 9), ("el9.4.0", 90400), ("el8.10", 81000),
                                            ("f39", 39), ("rolling", None), ("", None)])
def test_the_platform_version_prefixes_module_versions_as_mbs_does(stream, prefix):
    assert platform_version(stream) == prefix
    version = module_version("20261204120000", stream)
    assert str(version) == (f"{prefix}20261204120000" if prefix is not None
                            else "20261204120000")


# -- properties ---------------------------------------------------------------------------

@st.composite
def dags(draw):
    n = draw(st.integers(1, 12))
    names = [f"c{i}" for i in range(n)]
    after = {name: tuple(sorted(set(draw(st.lists(st.sampled_from(names[:i]), max_size=3)))))
             if i else () for i, name in enumerate(names)}
    return [Component(name, buildafter=after[name]) for name in names]


@settings(max_examples=150, deadline=None)
@given(dags())
def test_every_component_builds_in_a_later_tier_than_what_it_is_built_after(components):
    if not any(c.buildafter for c in components):
        return
    order = order_components(components)
    for c in components:
        assert set(order.deps[c.name]) == set(c.buildafter)
        assert all(order.tier_of(d) < order.tier_of(c.name) for d in c.buildafter)


@settings(max_examples=150, deadline=None)
@given(dags(), st.data())
def test_a_cycle_named_is_a_real_cycle_of_buildafter_edges(components, data):
    # close a cycle: the first component built after the last one
    first, last = components[0], components[-1]
    if first.name == last.name:
        return
    looped = [Component(first.name, buildafter=(last.name,))] + components[1:]
    if not _reaches(looped, last.name, first.name):
        return
    with pytest.raises(ModuleError) as err:
        order_components(looped)
    path = str(err.value).split(": ", 1)[1].split(" -> ")
    after = {c.name: set(c.buildafter) for c in looped}
    assert path[0] == path[-1] and len(path) >= 3
    assert all(b in after[a] for a, b in zip(path, path[1:]))


def _reaches(components, start, goal):
    after = {c.name: c.buildafter for c in components}
    seen, stack = set(), [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(after.get(node, ()))
    return False


def test_text_libmodulemd_cannot_take_is_refused_before_it_gets_there():
    # a JSON body ("\ud800") gives Python a lone surrogate, which UTF-8 cannot carry
    with pytest.raises(ModuleError, match=r"not UTF-8 text \(a lone surrogate at character"):
        mmd.parse(V2.replace("bottom", "\ud800"))
    with pytest.raises(ModuleError, match="contains a NUL character"):
        mmd.parse(V2.replace("bottom", "\x00"))
    with pytest.raises(ModuleError, match="not text"):
        mmd.parse(b"document: modulemd")


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([V2, V3]), st.data())
def test_any_damaged_document_is_a_module_or_one_line_of_error(text, data):
    cut = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.text(max_size=20))
    damaged = text[:cut] + junk + text[cut + data.draw(st.integers(0, 30)):]
    try:
        source = mmd.parse(damaged)
        expand(source, {"platform": ["el8", "el9"], "llvm": ["rolling"]})
        if source.components:
            order_components(source.components)
    except ModuleError as exc:
        assert str(exc).strip() and "\n" not in str(exc)
