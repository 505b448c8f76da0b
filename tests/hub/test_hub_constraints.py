"""Package constraints: strict writes, lenient reads, most-specific glob, tag over hub."""

import pytest
from hypothesis import given, strategies as st

from discomy.placement import constraints as cons
from discomy.placement.constraints import Constraints, ConstraintError


def test_sizes_cpus_power_virt_features_are_normalised():
    rules, warnings = cons.parse_rules(
        {"llvm*": {"memory": "32G", "disk": "80G", "cpus": 16, "power": True},
         "kernel": {"virt": "kvm"}, "*-firmware": {"features": ["ssd"]}})
    assert warnings == []
    assert rules["llvm*"] == Constraints(memory_mb=32768, disk_mb=81920, cpus=16, power=True)
    assert rules["kernel"].virt == ("kvm",)
    assert rules["*-firmware"].features == ("ssd",)


def test_unknown_key_is_an_error_when_writing():
    with pytest.raises(ConstraintError, match="unknown constraint 'ram'.*known constraints are memory"):
        cons.parse_rules({"llvm": {"ram": "32G"}}, strict=True)


def test_unknown_key_is_a_warning_when_reading():
    rules, warnings = cons.parse_rules({"llvm": {"ram": "32G", "cpus": 8}}, strict=False)
    assert rules["llvm"] == Constraints(cpus=8)
    assert len(warnings) == 1 and "'ram'" in warnings[0]


@pytest.mark.parametrize("value, message", [
    ({"memory": "lots"}, "memory"),
    ({"memory": True}, "memory"),
    ({"cpus": 0}, "cpus"),
    ({"cpus": "eight"}, "cpus"),
    ({"power": "maybe"}, "power"),
    ({"virt": "vmware"}, "virt 'vmware' is not one of kvm, xen, chroot"),
    ({"features": [3]}, "features"),
    ("32G", "must be a mapping"),
])
def test_bad_values_are_refused_with_the_key_named(value, message):
    with pytest.raises(ConstraintError, match=message):
        cons.parse_rules({"pkg": value}, strict=True)


def test_bad_glob_is_refused():
    with pytest.raises(ConstraintError, match="glob"):
        cons.parse_rules({"two words": {"cpus": 2}})


def test_exact_name_beats_any_glob():
    rules, _ = cons.parse_rules({"llvm*": {"cpus": 16}, "llvm": {"cpus": 4}, "*": {"cpus": 1}})
    assert cons.best_match(rules, "llvm") == ("llvm", Constraints(cpus=4))


def test_longer_literal_glob_wins():
    rules, _ = cons.parse_rules({"*": {"cpus": 1}, "llvm*": {"cpus": 16}, "llvm1*": {"cpus": 32}})
    assert cons.best_match(rules, "llvm17")[0] == "llvm1*"
    assert cons.best_match(rules, "llvm-toolset")[0] == "llvm*"
    assert cons.best_match(rules, "bash")[0] == "*"


def test_no_match_gives_none():
    rules, _ = cons.parse_rules({"llvm*": {"cpus": 16}})
    assert cons.best_match(rules, "bash") is None


def test_tag_rule_overrides_hub_default_key_by_key():
    hub, _ = cons.parse_rules({"llvm*": {"memory": "32G", "power": True}})
    tag, _ = cons.parse_rules({"llvm": {"memory": "64G"}})
    assert cons.resolve("llvm", hub, tag) == Constraints(memory_mb=65536, power=True)


def test_json_round_trip_is_stable():
    raw = {"llvm*": {"memory": "32G", "cpus": 16, "power": False, "virt": ["kvm", "xen"]}}
    rules, _ = cons.parse_rules(raw)
    again, _ = cons.parse_rules(cons.rules_to_json(rules))
    assert again == rules


_globs = st.text(alphabet="ab*?-", min_size=1, max_size=6)


@given(st.dictionaries(_globs, st.integers(1, 64), min_size=1, max_size=8),
       st.text(alphabet="ab-", min_size=1, max_size=6))
def test_best_match_does_not_depend_on_mapping_order(table, package):
    rules = {g: Constraints(cpus=n) for g, n in table.items()}
    reversed_rules = dict(reversed(list(rules.items())))
    assert cons.best_match(rules, package) == cons.best_match(reversed_rules, package)


@given(st.dictionaries(_globs, st.integers(1, 64), min_size=1, max_size=8),
       st.text(alphabet="ab-", min_size=1, max_size=6))
def test_best_match_is_a_matching_glob_and_exact_names_win(table, package):
    import fnmatch
    rules = {g: Constraints(cpus=n) for g, n in table.items()}
    found = cons.best_match(rules, package)
    matching = [g for g in rules if fnmatch.fnmatchcase(package, g)]
    if not matching:
        assert found is None
    else:
        assert found[0] in matching
        if package in rules:
            assert found[0] == package


@pytest.mark.parametrize("expr, expected", [
    ("power", True), ("memory", True), ("disk", False), ("memory>=32G", True),
    ("memory>=64G", False), ("cpus>=8", True), ("cpus>=32", False), ("virt=kvm", True),
    ("virt=xen", False), ("features=ssd", False), ("features", False),
])
def test_policy_expressions_read_a_packages_constraints(expr, expected):
    c = Constraints(memory_mb=32768, cpus=16, power=True, virt=("kvm",))
    assert cons.meets_expression(c, expr) is expected


@pytest.mark.parametrize("expr", ["ram>=3G", "memory>=lots", "cpus=3", "virt>=kvm", ""])
def test_bad_policy_expressions_are_refused(expr):
    with pytest.raises(ConstraintError):
        cons.check_expression(expr)


@pytest.mark.parametrize("source, name", [
    ("tasks/1/2/llvm-17.0.6-1.el9.src.rpm", "llvm"),
    ("git+https://git.example/rpms/llvm-toolset.git#abc123", "llvm-toolset"),
    ("git+https://git.example/rpms/kernel#main", "kernel"),
    ("", None), (None, None),
])
def test_package_name_from_build_source(source, name):
    assert cons.package_from_source(source) == name
