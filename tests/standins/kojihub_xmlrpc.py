"""A stand-in koji hub over XML-RPC: exactly the calls the koji backend makes.

Shaped from koji's hub API (method names, arguments, return shapes, fault
codes), not from its code: ``build(src, target, opts, priority=...)`` returns a
task id; ``listTasks(opts)`` returns task dicts with a decoded ``request``;
``getTaskInfo(id)`` returns ``{"id", "state", ...}``; ``getTaskResult(id)``
raises the task's fault when it failed. ``offline`` makes the next N calls
answer with koji's ServerOffline fault (code 1014), as a hub in maintenance does.
Serves on 127.0.0.1 only; stop it with ``stop()``.
"""

from __future__ import annotations

import threading
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer
from xmlrpc.client import Fault

FREE, OPEN, CLOSED, CANCELED, ASSIGNED, FAILED = 0, 1, 2, 3, 4, 5
SERVER_OFFLINE, BUILD_ERROR = 1014, 1005


class StandinKojiHub:
    def __init__(self):
        self.tasks: dict = {}
        self.outcomes: dict = {}        # source -> list of error texts ("" = success), in order
        self.polls_to_finish = 1
        self.offline = 0
        self.calls: list = []
        self.server = SimpleXMLRPCServer(("127.0.0.1", 0), requestHandler=_Quiet,
                                         allow_none=True, logRequests=False)
        self.server.register_instance(self)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/kojihub"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def _dispatch(self, method, params):
        self.calls.append(method)
        if self.offline > 0:
            self.offline -= 1
            raise Fault(SERVER_OFFLINE, "server is offline")
        params = list(params)
        kwargs = {}
        if params and isinstance(params[-1], dict) and params[-1].pop("__starstar", False):
            kwargs = params.pop()
        func = getattr(self, "hub_" + method, None)
        if func is None:
            raise Fault(1000, f"Invalid method: {method}")
        return func(*params, **kwargs)

    # -- the hub calls ------------------------------------------------------------------------
    def hub_build(self, src, target, opts=None, priority=None, channel=None):
        task_id = 1000 + len(self.tasks)
        queue = self.outcomes.get(src, [])
        error = queue.pop(0) if queue else ""
        self.tasks[task_id] = {"id": task_id, "method": "build", "state": OPEN,
                               "priority": priority, "request": [src, target, opts or {}],
                               "error": error, "polls": 0}
        return task_id

    def hub_listTasks(self, opts=None, queryOpts=None):
        opts = opts or {}
        out = []
        for task in self.tasks.values():
            if opts.get("method") and task["method"] != opts["method"]:
                continue
            if "state" in opts and task["state"] not in opts["state"]:
                continue
            out.append(self._public(task))
        return out

    def hub_getTaskInfo(self, task_id, request=False):
        task = self.tasks.get(task_id)
        if task is None:
            return None
        task["polls"] += 1
        if task["state"] == OPEN and task["polls"] >= self.polls_to_finish:
            task["state"] = FAILED if task["error"] else CLOSED
        return self._public(task)

    def hub_getTaskResult(self, task_id, raise_fault=True):
        task = self.tasks[task_id]
        if task["state"] == FAILED:
            raise Fault(BUILD_ERROR, task["error"])
        return {"srpms": [], "rpms": []}

    @staticmethod
    def _public(task):
        return {k: v for k, v in task.items() if k not in ("error", "polls")}


class _Quiet(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/kojihub",)
