"""Serving the application with uvicorn: in the foreground (``discomy api``) or on a
thread of ``discomy serve``.

The listening socket is bound here, before uvicorn starts, so an address in use
or not ours is one clear error rather than a log line from a thread that ended.
Uvicorn's proxy-header handling is off: the client address the API sees is the
TCP peer, which is what ``[api] trusted_proxies`` is checked against. Uvicorn
logs through the process's logging, without configuring it.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import socket
import threading
import time


# Handlers that touch the store run on worker threads. Their calls are short, so a
# few threads keep the CPUs busy; dozens (anyio's default is 40) only take turns at
# the GIL while every request waits longer.
WORKER_THREADS = 8


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; OSError (its strerror) when it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP said outright: asyncio switches Nagle's algorithm off only on sockets
    # that say so, and with it on every keep-alive answer waits 40 ms for an ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _server_class():
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):
            # SIGTERM and SIGINT end serving with status 0, as they end discomy serve;
            # uvicorn would raise them again once it has shut down
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            kept = {sig: signal.signal(sig, self.handle_exit)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in kept.items():
                    signal.signal(sig, handler)

        async def serve(self, sockets=None):
            import anyio.to_thread

            anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
            await super().serve(sockets)

    return Server


def settle() -> None:
    """What the process holds once it is set up (modules, the app, its schemas: some
    hundred thousand objects) is kept out of the garbage collector's full passes, which
    otherwise stop every request for 50 to 80 ms a few times a minute."""
    gc.collect()
    gc.freeze()


class ApiServer:
    def __init__(self, app, host: str, port: int):
        import uvicorn

        _Server = _server_class()

        self.sock = bind(host, port)
        self.address = self.sock.getsockname()[:2]
        self.server = _Server(uvicorn.Config(
            app, log_config=None, proxy_headers=False, server_header=False,
            access_log=False, lifespan="off", timeout_graceful_shutdown=10))
        self.thread = None

    def run(self) -> None:
        """Serve until SIGTERM or SIGINT (uvicorn's own handlers: requests in hand finish)."""
        settle()
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()

    def start(self, timeout: float = 30.0) -> "ApiServer":
        """Serve on a thread of this process; returns once requests are answered."""
        settle()
        self.thread = threading.Thread(target=self.run, name="discomy-api", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start; see the log")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout)
