"""Stand-in for ``kojihub.db``: ``QueryProcessor``, ``UpsertProcessor`` and
``Savepoint`` with koji's constructor arguments, answering the few queries the
Discomy hub plugin makes from ``kojihub_world`` instead of PostgreSQL. Clauses
and joins are not evaluated: the real hub test runs the plugin's SQL."""

import json

import kojihub_world


class QueryProcessor:
    def __init__(self, columns=None, aliases=None, tables=None, joins=None, values=None,
                 transform=None, clauses=None, opts=None, enable_group=False, order_map=None):
        self.columns = columns or []
        self.aliases = aliases or []
        self.tables = tables or []
        self.values = values or {}
        self.clauses = clauses or []

    def execute(self):
        world = kojihub_world.WORLD
        world.queries.append(self.tables[0])
        table = self.tables[0]
        if table == "scheduler_sys_data":
            name = self.values["name"]
            return [{"data": world.sys_data[name]}] if name in world.sys_data else []
        if table == "task" and "host_id" in self.aliases:
            return [dict(r) for r in world.samples]
        if table == "task":
            return [{"id": tid, "request": world.requests[tid]}
                    for tid in self.values["ids"] if tid in world.requests]
        if table == "build":
            return [dict(r) for r in world.history if r["name"] in self.values["names"]]
        raise AssertionError(f"stand-in QueryProcessor has no table {table}")

    def singleValue(self, strict=True):
        rows = self.execute()
        if not rows:
            if strict:
                raise AssertionError("no rows")
            return None
        return next(iter(rows[0].values()))


class UpsertProcessor:
    def __init__(self, table, data=None, rawdata=None, keys=None, skip_dup=False):
        self.table = table
        self.data = data or {}

    def execute(self):
        assert self.table == "scheduler_sys_data"
        # PostgreSQL's JSONB column hands the decoded value back to readers
        kojihub_world.WORLD.sys_data[self.data["name"]] = json.loads(self.data["data"])


class Savepoint:
    def __init__(self, name):
        self.name = name
        kojihub_world.WORLD.savepoints.append(name)

    def rollback(self):
        kojihub_world.WORLD.rolled_back.append(self.name)
