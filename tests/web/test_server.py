"""The API as it runs: ``discomy api`` and ``discomy serve`` with ``[api] serve`` as real
processes on 127.0.0.1, reached over HTTP, stopped by their pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp_path, example_repos, port: int, extra: str = "") -> Path:
    path = tmp_path / "orchestrator.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "state.sqlite"}"\n'
        f'[plan]\nrepos = ["{example_repos.source_repo}", "{example_repos.binary_repo}"]\n'
        f'cache_dir = "{tmp_path / "cache"}"\n'
        f'[campaign]\nworkdir = "{tmp_path / "work"}"\n'
        f'[local]\nsource_repos = ["{example_repos.source_repo}"]\n'
        f'[api]\nlisten = "127.0.0.1:{port}"\nmax_body_bytes = 4096\n{extra}')
    return path


def start(argv: list, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "discomy", *argv], stdout=log.open("w"),
                            stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_until_up(base: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if requests.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not up after {timeout} s: {log.read_text()}")


def stop(proc: subprocess.Popen) -> int:
    os.kill(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(30)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def read_answer(conn: socket.socket) -> str:
    """One HTTP answer off a raw connection: its head, and a body of its Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        body += conn.recv(4096)
    return (head + b"\r\n\r\n" + body).decode()


def token(config: Path, name: str) -> str:
    made = subprocess.run([sys.executable, "-m", "discomy", "token", "create", name,
                           "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def test_discomy_api_serves_over_http_refuses_a_streamed_oversized_body_and_stops_on_sigterm(
        tmp_path, example_repos):
    port = free_port()
    config = write_config(tmp_path, example_repos, port)
    secret = token(config, "ci")
    log = tmp_path / "api.log"
    proc = start(["api", "--config", str(config)], log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc, log)
        assert requests.get(f"{base}/openapi.json", timeout=10).json()["info"]["title"] == \
            "Discomy"
        started = requests.post(f"{base}/api/v1/campaigns", json={"names": ["corelib"]},
                                headers={"Authorization": f"Bearer {secret}"}, timeout=60)
        assert started.status_code == 201, started.text
        assert requests.get(f"{base}/api/v1/campaigns/1", timeout=10).json()["counts"][
            "total"] == 4
        # a body sent in chunks, never ending: refused once past the limit, unread after it
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"POST /api/v1/campaigns/preview HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(5):
                conn.sendall(b"400\r\n" + b" " * 1024 + b"\r\n")
            answer = read_answer(conn)
        assert answer.startswith("HTTP/1.1 413 ") and \
            '"error":"the request body is larger than 4096 bytes"' in answer
        # answers on a kept-alive connection do not wait for the client's delayed ACK
        # (40 ms each when the server's socket leaves Nagle's algorithm on)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            took = []
            for _ in range(9):
                asked = time.perf_counter()
                conn.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
                assert read_answer(conn).startswith("HTTP/1.1 200 ")
                took.append(time.perf_counter() - asked)
        assert sorted(took)[4] < 0.030, took
        metrics = requests.get(f"{base}/metrics", timeout=10).text
        assert 'discomy_api_requests_total{method="POST",route="/api/v1/campaigns",' \
               'status="201"} 1.0' in metrics
    finally:
        status = stop(proc)
    text = log.read_text()
    assert status == 0, text
    assert f"discomy api: listening on http://127.0.0.1:{port}" in text
    assert "discomy api: stopped" in text and "Traceback" not in text


def test_an_address_in_use_is_one_line_and_status_2(tmp_path, example_repos):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, example_repos, port)
        proc = subprocess.run([sys.executable, "-m", "discomy", "api", "--config", str(config)],
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"discomy api: error: cannot listen on 127.0.0.1:{port}: " \
                                  f"Address already in use"


def test_serve_with_the_api_drives_a_campaign_started_through_it_to_the_end(
        tmp_path, example_repos):
    port = free_port()
    config = write_config(tmp_path, example_repos, port, "serve = true\n")
    secret = token(config, "release-engineer")
    log = tmp_path / "serve.log"
    proc = start(["serve", "--config", str(config), "--tick", "0.2"], log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc, log)
        started = requests.post(f"{base}/api/v1/campaigns", json={"names": ["corelib"]},
                                headers={"Authorization": f"Bearer {secret}"}, timeout=60)
        assert started.status_code == 201, started.text
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            status = requests.get(f"{base}/api/v1/campaigns/1", timeout=10).json()
            if status["state"] != "running":
                break
            time.sleep(0.5)
        assert status["state"] == "done", status
        assert status["counts"]["done"] == 4 and status["progress"] == 1.0
        nvrs = [n["nvr"] for n in requests.get(f"{base}/api/v1/campaigns/1/nodes",
                                               timeout=10).json()["items"]]
        assert all(nvr and ".discomy1" in nvr for nvr in nvrs), nvrs
    finally:
        code = stop(proc)
    text = log.read_text()
    assert code == 0, text
    assert f"the API listens on 127.0.0.1:{port}" in text
    assert "campaign 1: started for corelib by token release-engineer" in text
    assert "campaign 1: done" in text


def test_a_session_secret_too_short_or_missing_is_one_line_and_status_2(tmp_path,
                                                                        example_repos):
    short = tmp_path / "secret"
    short.write_text("abc\n")
    for secret, said in ((short, f"[api] session_secret_file {short}: fewer than 16 bytes"),
                         (tmp_path / "nosuch", f"[api] session_secret_file: "
                                               f"{tmp_path / 'nosuch'} is not a file")):
        config = write_config(tmp_path, example_repos, 8,
                              f'session_secret_file = "{secret}"\n')
        proc = subprocess.run([sys.executable, "-m", "discomy", "api", "--config", str(config)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and said in proc.stderr, proc.stderr


def test_logins_made_by_one_process_hold_in_another_with_the_same_secret(tmp_path,
                                                                         example_repos):
    from api_world import make_api, make_config

    secret = tmp_path / "secret"
    secret.write_text("s" * 44)
    config = make_config(tmp_path, example_repos, session_secret_file=str(secret))
    one = make_api(f"sqlite:///{tmp_path / 'state.sqlite'}", config)
    r = one.client.post("/login", data={"token": one.token},
                        headers={"Origin": "http://testserver"}, follow_redirects=False)
    cookie = r.cookies["discomy_session"]
    from discomy.web.app import create_app
    from fastapi.testclient import TestClient

    other = TestClient(create_app(one.store, config))
    other.cookies.set("discomy_session", cookie)
    assert ">tester</span>" in other.get("/").text
    stranger = TestClient(create_app(one.store, make_config(tmp_path, example_repos)))
    stranger.cookies.set("discomy_session", cookie)
    assert ">tester</span>" not in stranger.get("/").text


def test_the_koji_admin_profile_is_off_by_default_and_must_be_a_string():
    from discomy.orchestration.config import ConfigError, merge_config

    assert merge_config({})["api"]["koji_admin_profile"] == ""
    assert merge_config({"api": {"koji_admin_profile": "koji-admin"}}
                        )["api"]["koji_admin_profile"] == "koji-admin"
    try:
        merge_config({"api": {"koji_admin_profile": 3}})
    except ConfigError as err:
        assert "koji_admin_profile" in str(err) and "\n" not in str(err)
    else:
        raise AssertionError("a number was taken as a koji profile")
