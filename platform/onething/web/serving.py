"""Serving: waitress for one process, gunicorn's pre-fork workers, each with threads."""

from __future__ import annotations

import logging
import os

from flask import Flask
from gunicorn.app.base import BaseApplication
from waitress.channel import HTTPChannel


class _Channel(HTTPChannel):
    """waitress's connection, without the busy loop while its request is being served.

    waitress 3 counts a connection as writable whenever its output buffer holds bytes,
    also while a worker thread is still writing the response: it holds the buffer's lock
    and sends the bytes itself. The main loop's select() then returns at once, over and
    over, and finds the lock taken: it spins, holding the GIL the worker needs to finish.
    Measured on /healthz at 16 clients with 4 threads: 1.7 ms of CPU a request, 1.1 of
    it in the main loop, against 0.6 ms with this; with 1 thread, 10.8 ms against 0.4.
    """

    def writable(self) -> bool:
        """Writable when the main loop has something to do: not while the connection has a
        request in hand (its worker sends what it writes, and a pipelined request's worker
        sends what an earlier one left), unless a worker waits for the buffer to drain
        (past the high watermark)."""
        if self.requests and self.total_outbufs_len <= self.adj.outbuf_high_watermark:
            return bool(self.will_close or self.close_when_flushed)
        return super().writable()


def unusable_address(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port, in a sentence; None when it can.

    Tried before the app starts (migrations, seeding, the catalog: seconds), so a port
    already taken ends at once with one line that says what to do, not a traceback.
    """
    import errno
    import socket

    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (OSError, UnicodeError):
        return f"{host!r} is not an address or a host name this machine can resolve"
    with socket.socket(family, kind, proto) as probe:
        # As waitress and gunicorn bind: a port left in TIME_WAIT by a stopped server
        # is free to them, so it is free here.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return (f"port {port} on {host} is already in use (another OneThing, or "
                        f"another server): stop it, or choose another port with --port")
            if error.errno == errno.EACCES:
                return (f"not allowed to listen on port {port} (ports below 1024 need "
                        f"root): choose another with --port, behind a reverse proxy")
            if error.errno == errno.EADDRNOTAVAIL:
                return f"{host} is not an address of this machine: check --host"
            return f"cannot listen on {host}:{port}: {error.strerror}"
    return None


def serve_waitress(app: Flask, host: str, port: int, threads: int) -> None:
    """Serve with waitress: one process, `threads` threads, until stopped."""
    logging.basicConfig()  # as waitress.serve() does: its errors reach the terminal
    # waitress logs a warning for every request that waits for a free thread, so a busy
    # hour writes a line per request, costing CPU exactly when the server has none to
    # spare. Saturation shows in response times; errors are still logged.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = waitress_server(app, host, port, threads)
    server.print_listen("Serving on http://{}:{}")
    server.run()


def waitress_server(app: Flask, host: str, port: int, threads: int, **adjustments):
    """The waitress server `onething serve` runs, not yet running (the browser tests' too)."""
    import waitress

    server = waitress.create_server(app, host=host, port=port, threads=threads,
                                    ident="onething", **adjustments)
    server.channel_class = _Channel
    return server


class _Gunicorn(BaseApplication):
    """gunicorn running an app already created (and its database migrated) in the master."""

    def __init__(self, app: Flask, options: dict):
        self.application, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        """Apply the options given in code: no gunicorn.conf.py is read."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        """The app, created once in the master and shared by the forked workers."""
        return self.application


def serve_gunicorn(app: Flask, host: str, port: int, workers: int, threads: int) -> None:
    """Serve with gunicorn: `workers` processes of `threads` threads each, until stopped."""
    engine = app.extensions["onething.engine"]
    # The master's connections were opened before the fork: a worker must never use a
    # socket its siblings share, so each starts with an empty pool of its own.
    engine.dispose()

    def post_fork(_server, _worker) -> None:
        engine.dispose(close=False)
        interval = float(app.config["WEBHOOK_INTERVAL"] or 0)
        if interval:
            # Each worker delivers: a delivery is claimed by exactly one deliverer, so
            # several never send one event twice (and one stuck worker stops nothing).
            from onething.departments.webhooks import start_deliverer

            start_deliverer(engine, interval, threads=int(app.config["WEBHOOK_THREADS"]),
                            timeout=float(app.config["WEBHOOK_TIMEOUT"]))

    def child_exit(_server, worker) -> None:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # A dead worker's gauges leave /metrics; its counters stay counted.
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(worker.pid)

    _Gunicorn(app, {
        "bind": f"{host}:{port}", "workers": workers, "threads": threads,
        "worker_class": "gthread", "preload_app": True,
        "post_fork": post_fork, "child_exit": child_exit,
        # The app writes its own errors; an access line per request would cost the CPU a
        # busy hour has none of (as with waitress).
        "accesslog": None, "errorlog": "-", "loglevel": "warning",
        "proc_name": "onething", "graceful_timeout": 20,
    }).run()
