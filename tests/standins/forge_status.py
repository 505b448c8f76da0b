"""A stand-in for the commit status APIs of GitHub, GitLab and Forgejo: the one call
each forge offers to set a commit's status, served on 127.0.0.1.

Shaped from each forge's documentation, not from its code:

- GitHub (REST ``POST /repos/{owner}/{repo}/statuses/{sha}``): JSON ``state``
  (``error``, ``failure``, ``pending``, ``success``), ``target_url``,
  ``description``, ``context``; ``Authorization: Bearer <token>``; 201 with the
  status;
- GitLab (``POST /projects/:id/statuses/:sha``, ``:id`` the URL-encoded
  ``namespace/project``): ``state`` (``pending``, ``running``, ``success``,
  ``failed``, ``canceled``, ``skipped``), ``ref``, ``name``, ``target_url``,
  ``description``; ``PRIVATE-TOKEN: <token>``; 201;
- Forgejo / Gitea (``POST /repos/{owner}/{repo}/statuses/{sha}``): ``state``
  (``pending``, ``success``, ``error``, ``failure``, ``warning``),
  ``target_url``, ``description``, ``context``; ``Authorization: token <token>``;
  201.

Each forge is served under its own prefix: ``/github``, ``/gitlab/api/v4`` and
``/forgejo/api/v1`` (what ``api_url`` names). A wrong token is 401, an unknown
state 422. ``fail_next`` answers that many calls with 500 first, as a forge in
trouble would. Every status taken is in ``received`` as ``(forge, repository,
sha, body)``; every call (refused ones too) in ``calls``.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

STATES = {"github": {"error", "failure", "pending", "success"},
          "gitlab": {"pending", "running", "success", "failed", "canceled", "skipped"},
          "forgejo": {"pending", "success", "error", "failure", "warning"}}
ROUTES = [("github", re.compile(r"^/github/repos/([^/]+)/([^/]+)/statuses/([0-9a-f]{40})$")),
          ("gitlab", re.compile(r"^/gitlab/api/v4/projects/([^/]+)/statuses/([0-9a-f]{40})$")),
          ("forgejo", re.compile(
              r"^/forgejo/api/v1/repos/([^/]+)/([^/]+)/statuses/([0-9a-f]{40})$"))]


class ForgeStatusStandIn:
    def __init__(self, tokens: dict):
        """``tokens``: ``forge -> the token it accepts``."""
        self.tokens = tokens
        self.received: list = []
        self.calls: list = []
        self.fail_next = 0
        self.lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                code, answer = standin._take(self.path, self.headers, raw)
                data = json.dumps(answer).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def api_url(self, forge: str) -> str:
        return {"github": f"{self.url}/github", "gitlab": f"{self.url}/gitlab/api/v4",
                "forgejo": f"{self.url}/forgejo/api/v1"}[forge]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def _take(self, path: str, headers, raw: bytes) -> tuple:
        with self.lock:
            for forge, route in ROUTES:
                m = route.match(path)
                if m:
                    break
            else:
                self.calls.append((None, path, 404))
                return 404, {"message": "Not Found"}
            if forge == "gitlab":
                repository, sha = unquote(m.group(1)), m.group(2)
                given = headers.get("PRIVATE-TOKEN", "")
            else:
                repository, sha = f"{m.group(1)}/{m.group(2)}", m.group(3)
                scheme = "Bearer" if forge == "github" else "token"
                given = headers.get("Authorization", "").removeprefix(f"{scheme} ")
            if given != self.tokens.get(forge):
                self.calls.append((forge, path, 401))
                return 401, {"message": "Bad credentials"}
            if self.fail_next > 0:
                self.fail_next -= 1
                self.calls.append((forge, path, 500))
                return 500, {"message": "Internal Server Error"}
            try:
                body = json.loads(raw)
            except ValueError:
                self.calls.append((forge, path, 400))
                return 400, {"message": "Problems parsing JSON"}
            if body.get("state") not in STATES[forge]:
                self.calls.append((forge, path, 422))
                return 422, {"message": "Validation Failed"}
            self.calls.append((forge, path, 201))
            self.received.append((forge, repository, sha, body))
            return 201, {"id": len(self.received), **body}
