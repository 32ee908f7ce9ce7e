"""Benchmark submitting: complete restaurant submissions posted by concurrent clients.

The server is started as `onething serve` starts it (waitress, its default
threads), once on SQLite and once on PostgreSQL (a throwaway cluster this
script starts when PostgreSQL is installed, or --postgres URL). Complete
restaurant drafts (every field, every material) are prepared beforehand in the
same database; the timed part is the submit POST: validation, one transaction
storing the submission and its five routed tasks with working-day due dates.

The baseline is the same server's trivial endpoint (/healthz) under the same
16 clients. Targets on 2 cores: submit throughput at least 30% of the
baseline's, p99 latency under 100 ms, and the server's CPU per submit at most
5× its CPU per /healthz. PostgreSQL is measured twice: one process, then
`onething serve --workers 2` (gunicorn), printed as a throughput ratio.

    python benchmarks/submit.py [--clients 16] [--submissions 400] [--postgres URL]
                                [--threads N] [--workers 2] [--only sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import http.client
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import line as machine_line  # noqa: E402

ANSWERS = {"has_business_licence": False, "public_gathering_place": True,
           "fire_route": "commitment", "outdoor_signboard": True, "sells_tobacco": True}
DATA = {
    "entity_name": "青岛海风餐饮有限公司", "entity_type": "limited_company",
    "legal_representative": {"name": "王海风", "id_number": "11010519491231002X",
                             "mobile": "13805320000"},
    "business_scope": "餐饮服务；食品销售", "contact_name": "李青", "contact_mobile": "13905321111",
    "premises_address": {"division_code": "370202", "detail": "香港中路10号"},
    "premises_area": 120,
    "shareholders": [{"name": "王海风", "id_number": "11010519491231002X", "contribution": 30},
                     {"name": "李青", "id_number": "11010519491231002X", "contribution": 20}],
    "matters": {
        "business-registration": {"shareholder_count": 2},
        "food-business-licence": {"main_business_format": "catering_operator",
                                  "food_business_items": ["hot_food"],
                                  "food_safety_manager_name": "赵安",
                                  "food_safety_manager_mobile": "13705322222"},
        "fire-safety-check": {"place_type": "restaurant", "floors_used": "1",
                              "max_occupancy": 80},
        "outdoor-signboard": {"signboard_text": "海风小馆", "signboard_width_m": 6,
                              "signboard_height_m": 1.2, "signboard_position": "storefront",
                              "lighting": False},
        "tobacco-retail-licence": {"retail_format": "restaurant",
                                   "business_hours": "10:00-22:00", "is_chain_store": False},
    },
}


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def postgres_cluster():
    """A throwaway PostgreSQL cluster on a unix socket; yields its URL (None if not installed)."""
    initdb = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not initdb:
        yield None
        return
    bin_dir = initdb[-1].parent
    folder = Path(tempfile.mkdtemp(prefix="onething-bench-pg-"))
    as_pg = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    run = lambda *cmd: subprocess.run([*as_pg, *cmd], check=True, capture_output=True)  # noqa: E731
    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8")
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "-o",
            f"-k {folder} -c listen_addresses='' -c max_connections=100", "start")
        subprocess.run([str(bin_dir / "createdb"), "-h", str(folder), "-U", "postgres", "bench"],
                       check=True)
        yield f"postgresql+psycopg://postgres@/bench?host={folder}"
    finally:
        subprocess.run([*as_pg, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def prepare_drafts(database_url: str, instance: Path, count: int) -> list[tuple[str, str]]:
    """Complete restaurant drafts, made through the workflow API: (public id, token) pairs."""
    from onething.cases.workflow import create_draft, save_draft
    from onething.publishing.versions import latest_version
    from onething.storage.db import session_for
    from onething.storage.models import StoredFile
    from onething.web.app import create_app

    app = create_app({"DATABASE_URL": database_url}, instance_path=instance)
    engine = app.extensions["onething.engine"]
    drafts = []
    with session_for(engine) as session:
        sha = "0" * 64
        if session.get(StoredFile, sha) is None:
            session.add(StoredFile(sha256=sha, size=1, content_type="application/pdf"))
            session.commit()
        version = latest_version(session, "open-restaurant")
        from onething.composer.compose import compose
        from onething.publishing.versions import bundle_of

        composition = compose(bundle_of(version), ANSWERS)
        materials = {m.id: {"state": "uploaded", "file": sha, "filename": "a.pdf", "size": 1,
                            "content_type": "application/pdf"}
                     # A licence the registry does not hold is uploaded (its lookup would
                     # refuse the submit): the hot path then asks the registry nothing.
                     for m in composition.materials if m.upload or m.licence_code}
        for _ in range(count):
            draft, token = create_draft(session, version)
            save_draft(session, draft, answers=ANSWERS, data=DATA, materials=materials)
            drafts.append((draft.public_id, token))
        session.commit()
    engine.dispose()
    return drafts


@contextlib.contextmanager
def server(database_url: str, instance: Path, threads: int | None = None, workers: int = 1):
    """`onething serve` in a child process, until the block ends: yields (port, pid)."""
    port = free_port()
    env = dict(os.environ, ONETHING_DATABASE_URL=database_url,
               ONETHING_INSTANCE_PATH=str(instance))
    command = [sys.executable, "-m", "onething.cli", "serve", "--port", str(port)]
    if threads:
        command += ["--threads", str(threads)]
    if workers > 1:
        command += ["--workers", str(workers)]
    # A file, not a pipe: waitress logs its queue depth under load, and a pipe nobody
    # reads fills up and stops the server mid-run.
    log_path = instance / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                try:
                    connection.request("GET", "/healthz")
                    if connection.getresponse().status == 200:
                        break
                finally:
                    connection.close()
            time.sleep(0.2)
        else:
            raise RuntimeError("the server did not start: " + log_path.read_text())
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(timeout=20)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process and its children (gunicorn's workers) have
    used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return own + sum(cpu_seconds(int(child)) for child in
                     (children.read_text().split() if children.exists() else []))


def load(port: int, requests: list[tuple[str, str, bytes | None]], clients: int,
         pid: int | None = None) -> dict:
    """Send the requests from `clients` threads with keep-alive; throughput and latencies."""
    latencies: list[float] = []
    failures = []
    lock = threading.Lock()
    queue = iter(requests)

    def worker():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                item = next(queue, None)
            if item is None:
                break
            method, path, body = item
            headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
            start = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as error:
                # Counted, never swallowed: a dead client thread would inflate the rate.
                status = type(error).__name__
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if status not in (200, 302):
                    failures.append(status)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    cpu_before = cpu_seconds(pid) if pid else 0.0
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    cpu = cpu_seconds(pid) - cpu_before if pid else 0.0
    ordered = sorted(latencies)
    return {
        "rps": len(latencies) / wall,
        "p50": statistics.median(ordered) * 1000,
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "failures": failures,
        # Server CPU per request, and how busy the server kept its cores (1.0 = one core).
        "cpu_ms": cpu / max(len(latencies), 1) * 1000,
        "cores": cpu / wall,
    }


def run(label: str, database_url: str, args, workers: int = 1) -> dict:
    """Prepare drafts, start the server, measure baseline then submits; return the figures."""
    instance = Path(tempfile.mkdtemp(prefix="onething-bench-"))
    if workers > 1:
        label = f"{label}, {workers} workers"
    try:
        warm_drafts = args.clients * 2 * workers
        drafts = prepare_drafts(database_url, instance, args.submissions + warm_drafts)
        submits = [("POST", f"/d/{public_id}/submit?{urlencode({'token': token})}",
                    urlencode({"idempotency_key": secrets.token_urlsafe(16)}).encode())
                   for public_id, token in drafts]
        with server(database_url, instance, args.threads, workers) as (port, pid):
            # Steady state, as a server that has been up a while: the first submit composes
            # the bundle and compiles its validators (about a second, in each worker), the
            # first requests open the pools' connections. Not what the targets are about.
            load(port, [("GET", "/healthz", None)] * 200 * workers, args.clients)
            first = load(port, submits[:warm_drafts], args.clients, pid)
            baseline = load(port, [("GET", "/healthz", None)] * (args.submissions * 4),
                            args.clients, pid)
            result = load(port, submits[warm_drafts:], args.clients, pid)
        print(f"[{label}] warm-up: {warm_drafts} submits (slowest {first['p99']:.0f} ms), "
              "not counted")
        ratio = result["rps"] / baseline["rps"]
        print(f"[{label}] baseline GET /healthz: {baseline['rps']:7.0f} req/s, "
              f"p50 {baseline['p50']:.1f} ms, p99 {baseline['p99']:.1f} ms, "
              f"server CPU {baseline['cpu_ms']:.2f} ms/request on {baseline['cores']:.2f} cores")
        print(f"[{label}] submit (restaurant, 5 tasks): {result['rps']:7.0f} req/s, "
              f"p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms, "
              f"server CPU {result['cpu_ms']:.2f} ms/request on {result['cores']:.2f} cores, "
              f"failures {len(result['failures'])}"
              + (f" {dict(collections.Counter(result['failures']))}" if result["failures"] else ""))
        if result["failures"] or baseline["failures"] or first["failures"]:
            # A failed submit is a quick error page: counting it would flatter the rate.
            print(f"[{label}] INVALID: requests failed, so no ratio is reported")
            raise SystemExit(1)
        cpu_ratio = result["cpu_ms"] / baseline["cpu_ms"]
        print(f"[{label}] ratio {ratio:.2f} of baseline (target ≥ 0.30: "
              f"{'OK' if ratio >= 0.30 else 'MISSED'}); p99 target < 100 ms: "
              f"{'OK' if result['p99'] < 100 else 'MISSED'}; server CPU per submit "
              f"{cpu_ratio:.1f}× /healthz's (target ≤ 5×: "
              f"{'OK' if cpu_ratio <= 5 else 'MISSED'})")
        print(machine_line(label))
        return result
    finally:
        shutil.rmtree(instance, ignore_errors=True)


def on_postgresql(url: str, args) -> None:
    """One worker, then two (gunicorn), each on a database of its own; their ratio."""
    import psycopg
    from sqlalchemy.engine import make_url

    one = run("postgresql", url, args)
    if args.workers < 2:
        return
    # The same cluster, a fresh database: the two-worker run starts as the first did.
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(False)
    second = f"{parsed.database}_workers"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{second}"')
        connection.execute(f'CREATE DATABASE "{second}"')
    two = run("postgresql", parsed.set(database=second).render_as_string(False), args,
              workers=args.workers)
    print(f"[postgresql] throughput with {args.workers} workers: "
          f"{two['rps'] / one['rps']:.2f}× one worker's")


def main() -> None:
    """Run on SQLite, then on PostgreSQL with one worker and with --workers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--submissions", type=int, default=400)
    parser.add_argument("--postgres", default=None,
                        help="a PostgreSQL URL (default: start a throwaway cluster)")
    parser.add_argument("--threads", type=int, default=None,
                        help="server threads (default: onething serve's)")
    parser.add_argument("--workers", type=int, default=2,
                        help="gunicorn workers of the second PostgreSQL run (1: no such run)")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None,
                        help="measure one database only")
    args = parser.parse_args()
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as folder:
            run("sqlite", f"sqlite:///{folder}/bench.sqlite3", args)
    if args.only == "sqlite":
        return
    if args.postgres:
        on_postgresql(args.postgres, args)
        return
    with postgres_cluster() as url:
        if url is None:
            print("[postgresql] skipped: PostgreSQL is not installed")
        else:
            on_postgresql(url, args)


if __name__ == "__main__":
    main()
