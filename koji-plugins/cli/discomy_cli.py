# SPDX-License-Identifier: MIT
"""Discomy koji CLI plugin: see and steer capability-aware placement.

Commands (installed into koji's CLI plugin directory, koji_cli_plugins/):

    koji discomy-hosts [--json]
    koji discomy-host-policy HOST [--speed 1.0] [--max-memory 64G] [...] [--unset KEY]
                             [--clear] [--json]
    koji explain-task TASK_ID [--json]
    koji drain-host HOST [--wait]
    koji undrain-host HOST
    koji set-pkg-constraints TAG GLOB [--memory 16G] [--disk 40G] [--cpus 8]
                             [--power|--no-power] [--virt kvm] [--feature ssd] [--remove]
    koji list-pkg-constraints TAG [--json]

They call the hub plugin's ``discomy.*`` API. Each command is one
``handle_<name>(goptions, session, args)``; shared option and output helpers are
at the top, so a new command is one more small function.
"""

import json
import sys
import time
from optparse import OptionParser

import koji
from koji.plugin import export_cli
from koji_cli.lib import activate_session, ensure_connection, error

from discomy.placement.drain import HUB, still_held
from discomy.common.units import format_size_mb

HELP_TAIL = "\n(Specify the --help global option for a list of other help options)"


# ----------------------------------------------------------------- helpers

def _parser(usage, json_option=True):
    parser = OptionParser(usage="%prog " + usage + HELP_TAIL)
    if json_option:
        parser.add_option("--json", action="store_true", help="Print JSON for scripts")
    return parser


def _call(fn, *args, **kwargs):
    """Call the hub; a hub error becomes one line on stderr and exit status 1."""
    try:
        return fn(*args, **kwargs)
    except koji.GenericError as exc:
        error(str(exc).strip())


def _print_json(data):
    print(json.dumps(data, indent=2, sort_keys=True))


def _print_table(columns, rows):
    """Left-aligned columns sized to their content, under a header line."""
    widths = [max([len(c)] + [len(str(r[i])) for r in rows]) for i, c in enumerate(columns)]
    line = "  ".join("%-*s" % (w, c) for w, c in zip(widths, columns))
    print(line.rstrip())
    print("-" * len(line.rstrip()))
    for row in rows:
        print("  ".join("%-*s" % (w, v) for w, v in zip(widths, row)).rstrip())


def _num(value, fmt="%g"):
    return "?" if value is None else fmt % value


def _constraint_text(c):
    parts = []
    for key in ("memory", "disk"):
        if key in c:
            parts.append("%s>=%s" % (key, _size_text(c[key])))
    if "cpus" in c:
        parts.append("cpus>=%s" % c["cpus"])
    if c.get("virt"):
        parts.append("virt=" + "|".join(c["virt"]))
    if c.get("features"):
        parts.append("features=" + ",".join(c["features"]))
    if c.get("power"):
        parts.append("power")
    return " ".join(parts) or "-"


def _drain_text(host):
    """Who drains a host: hub (koji drain-host), builder (discomy-builder drain), both, or no."""
    if host.get("drain"):
        return "+".join(host["drain"])
    return "yes" if host.get("draining") else "no"


def _size_text(value):
    from discomy.common.units import parse_size_mb
    return format_size_mb(parse_size_mb(value))


# ----------------------------------------------------------------- commands

@export_cli
def handle_discomy_hosts(goptions, session, args):
    "[monitor] List builders with the capabilities placement uses, claimed and learned"
    parser = _parser("discomy-hosts [options]")
    (opts, args) = parser.parse_args(args)
    if args:
        parser.error("This command takes no arguments")
    ensure_connection(session, goptions)
    hosts = _call(session.discomy.hostCapabilities)
    if opts.json:
        _print_json(hosts)
        return
    rows = []
    notes = []
    for h in sorted(hosts, key=lambda h: h["name"]):
        claimed = h.get("claimed") or {}
        learned = h.get("learned") or {}
        rows.append((h["name"], ",".join(h.get("arches") or []) or "-", _num(h.get("cpus")),
                     format_size_mb(h.get("memory_mb")), format_size_mb(h.get("disk_free_mb")),
                     _num(h.get("speed")), _num(claimed.get("speed")),
                     _num(learned.get("speed")) if learned else "-",
                     "%s/%s" % (_num(h.get("task_load"), "%.1f"), _num(h.get("capacity"))),
                     "%s/%s" % (h.get("running_tasks", 0), _num(h.get("maxjobs"))),
                     _drain_text(h),
                     "yes" if h.get("ready") else "no"))
        notes.extend(h.get("trust_notes") or [])
    _print_table(("Host", "Arches", "CPUs", "Memory", "Disk", "Speed", "Claimed", "Learned",
                  "Load", "Tasks", "Draining", "Ready"), rows)
    if notes:
        print("\nIn force, not as claimed:")
        for note in notes:
            print("  " + note)


POLICY_OPTIONS = (
    # option, policy key, help
    ("--speed", "speed", "Pin the speed (1.0 = the reference builder)"),
    ("--max-speed", "max_speed", "Cap the speed"),
    ("--cpus", "cpus", "Pin the number of cpus"),
    ("--max-cpus", "max_cpus", "Cap the number of cpus"),
    ("--memory", "memory", "Pin the memory, e.g. 64G"),
    ("--max-memory", "max_memory", "Cap the memory, e.g. 64G"),
    ("--max-disk", "max_disk", "Cap the free buildroot disk, e.g. 500G"),
)


@export_cli
def handle_discomy_host_policy(goptions, session, args):
    "[admin] Pin or cap what placement believes of a builder"
    parser = _parser("discomy-host-policy [options] <host>")
    for option, key, text in POLICY_OPTIONS:
        parser.add_option(option, dest=key, metavar="VALUE", help=text)
    parser.add_option("--features", metavar="LIST",
                      help="Pin the feature tags, comma-separated (empty: none)")
    parser.add_option("--unset", action="append", default=[], metavar="KEY",
                      help="Remove one setting (speed, max_memory, ...); may be repeated")
    parser.add_option("--clear", action="store_true", help="Remove the host's whole policy")
    (opts, args) = parser.parse_args(args)
    if len(args) != 1:
        parser.error("Please specify one host")
    changes = {key: getattr(opts, key) for _, key, _ in POLICY_OPTIONS
               if getattr(opts, key) is not None}
    if opts.features is not None:
        changes["features"] = [f for f in opts.features.split(",") if f]
    if changes or opts.unset or opts.clear:
        activate_session(session, goptions)
        out = _call(session.discomy.setHostPolicy, args[0], changes, opts.unset, opts.clear)
    else:
        ensure_connection(session, goptions)
        out = _call(session.discomy.getHostPolicy, args[0])
    host = _call(session.discomy.hostCapabilities, args[0])
    if opts.json:
        _print_json(dict(out, host=host[0] if host else None))
        return
    print("Host %s: policy %s" % (out["name"], out["text"]))
    for h in host:
        claimed = h.get("claimed") or {}
        learned = (h.get("learned") or {}).get("speed")
        print("  speed %s (%s), claimed %s, learned %s" % (
            _num(h.get("speed")), h.get("speed_source") or "unknown",
            _num(claimed.get("speed")), _num(learned)))
        for note in h.get("trust_notes") or []:
            print("  " + note)


@export_cli
def handle_explain_task(goptions, session, args):
    "[monitor] Explain which hosts can take a task, and why not"
    parser = _parser("explain-task [options] <task_id>")
    (opts, args) = parser.parse_args(args)
    if len(args) != 1 or not args[0].isdigit():
        parser.error("Please specify one task ID")
    ensure_connection(session, goptions)
    out = _call(session.discomy.explainTask, int(args[0]))
    if opts.json:
        _print_json(out)
        return
    req = out["requirements"]
    print("Task %(task_id)s: %(method)s, arch %(arch)s, channel %(channel_id)s, %(state)s" % out)
    print("Needs: %s%s" % (req["text"], " (%s)" % req["why"] if req["why"] else ""))
    if not out.get("enabled", True):
        print("Note: Discomy placement is disabled on the hub; stock koji scheduling is used")
    rows = []
    for h in sorted(out["hosts"], key=lambda h: (not h["eligible"], h["name"])):
        reasons = [r.split(": ", 1)[-1] for r in h["reasons"]]
        rows.append((h["name"], "yes" if h["eligible"] else "no", "; ".join(reasons) or "-"))
    _print_table(("Host", "Fits", "Reasons"), rows)


@export_cli
def handle_drain_host(goptions, session, args):
    "[admin] Stop giving new tasks to a host; its running tasks finish"
    parser = _parser("drain-host [options] <host>", json_option=False)
    parser.add_option("--wait", action="store_true",
                      help="Wait until the host's running tasks have finished")
    parser.add_option("--interval", type="float", default=30.0,
                      help="Seconds between checks with --wait (default 30)")
    (opts, args) = parser.parse_args(args)
    if len(args) != 1:
        parser.error("Please specify one host")
    activate_session(session, goptions)
    _call(session.discomy.drainHost, args[0])
    print("Host %s is draining" % args[0])
    if not opts.wait:
        return
    while True:
        info = _call(session.discomy.hostCapabilities, args[0])
        running = sum(h.get("running_tasks", 0) for h in info)
        if running == 0:
            print("Host %s has no running tasks" % args[0])
            return
        print("Host %s: %i task(s) still running" % (args[0], running))
        sys.stdout.flush()
        time.sleep(opts.interval)


@export_cli
def handle_undrain_host(goptions, session, args):
    "[admin] Let a drained host take new tasks again"
    parser = _parser("undrain-host [options] <host>", json_option=False)
    (opts, args) = parser.parse_args(args)
    if len(args) != 1:
        parser.error("Please specify one host")
    activate_session(session, goptions)
    _call(session.discomy.undrainHost, args[0])
    state = _call(session.discomy.getDrainState, args[0])
    held = still_held(state["drain"], HUB, state["name"])
    print(held or "Host %s takes new tasks" % args[0])


@export_cli
def handle_set_pkg_constraints(goptions, session, args):
    "[admin] Set what a package's builds need from a builder, on a build tag"
    parser = _parser("set-pkg-constraints [options] <tag> <package-glob>", json_option=False)
    parser.add_option("--memory", help="Minimum memory, e.g. 16G")
    parser.add_option("--disk", help="Minimum free buildroot disk, e.g. 40G")
    parser.add_option("--cpus", type="int", help="Minimum number of cpus")
    parser.add_option("--power", action="store_true", default=None,
                      help="A power job: send it to the fastest fitting hosts")
    parser.add_option("--no-power", action="store_false", dest="power",
                      help="Not a power job")
    parser.add_option("--virt", action="append", default=[],
                      help="Required virtualization (kvm, xen, chroot); repeat for any-of")
    parser.add_option("--feature", action="append", default=[], dest="features",
                      help="Required host feature tag; may be repeated")
    parser.add_option("--remove", action="store_true",
                      help="Remove the constraints for this glob")
    (opts, args) = parser.parse_args(args)
    if len(args) != 2:
        parser.error("Please specify a tag and a package glob")
    tag, glob = args
    constraints = {}
    for key in ("memory", "disk", "cpus", "power"):
        if getattr(opts, key) is not None:
            constraints[key] = getattr(opts, key)
    if opts.virt:
        constraints["virt"] = opts.virt
    if opts.features:
        constraints["features"] = opts.features
    if opts.remove and constraints:
        parser.error("--remove takes no constraint options")
    if not opts.remove and not constraints:
        parser.error("Please give at least one constraint (--memory, --disk, --cpus, "
                     "--power, --virt, --feature) or --remove")
    activate_session(session, goptions)
    if opts.remove:
        _call(session.discomy.setPackageConstraints, tag, glob, remove=True)
        print("Removed constraints for %s on %s" % (glob, tag))
    else:
        result = _call(session.discomy.setPackageConstraints, tag, glob, constraints)
        print("%s on %s: %s" % (glob, tag, _constraint_text(result[glob])))


@export_cli
def handle_list_pkg_constraints(goptions, session, args):
    "[info] List package constraints of a build tag and the hub defaults"
    parser = _parser("list-pkg-constraints [options] <tag>")
    parser.add_option("--no-inherit", action="store_true",
                      help="Only the tag's own constraints, not inherited ones")
    (opts, args) = parser.parse_args(args)
    if len(args) != 1:
        parser.error("Please specify one tag")
    ensure_connection(session, goptions)
    out = _call(session.discomy.getPackageConstraints, args[0], inherit=not opts.no_inherit)
    if opts.json:
        _print_json(out)
        return
    rows = [(glob, out["tag"], _constraint_text(c)) for glob, c in out["constraints"].items()]
    rows += [(glob, "(hub default)", _constraint_text(c)) for glob, c in out["defaults"].items()]
    if not rows:
        print("No package constraints for %s" % out["tag"])
        return
    _print_table(("Glob", "From", "Needs"), rows)
    for warning in out.get("warnings") or []:
        print("Warning: %s" % warning, file=sys.stderr)
