"""Benchmark: the grading service end to end, on the production-like stack (issue 3).

    .venv/bin/python bench/bench_service.py [--rounds 7] [--uploads 50] [--clients 10]

Needs PostgreSQL (127.0.0.1:5432, trust; the `test` database) and Redis
(127.0.0.1:6379), as the tests do, and root for the sandbox. The bench starts
its own stack and removes it afterwards, also on Ctrl-C or SIGTERM: a fresh
PostgreSQL database `grader_bench_*`, a Redis database leased among 1-7 (the
tests lease 8-15) and flushed, gunicorn serving `grader.wsgi:app` (gthread, one
worker process per core with 4 threads: a process per core for the CPU, threads
for the waits on PostgreSQL and Redis), and one `grader worker` (one slot
without a GPU). It measures, side by side in one run (the machine is shared
and noisy):

1. End-to-end latency: rounds alternate `grader grade FILE` (a subprocess,
   wall clock) with an upload over API v1 polled every --poll seconds until
   the score is visible. Target: median(API) / median(grade) <= 1.1. Each API
   round is split into upload, queue wait (created -> started), worker
   (started -> finished; of which the sandboxed run) and visibility (finished
   -> seen by the poll), so a miss says where the time went.
2. A burst: --clients clients (one student each) send --uploads uploads at
   jittered times over --spread seconds (each client one upload per equal
   slot). Targets: p99 upload response under 250 ms; none lost (every upload
   accepted, with a row, and final in the end); all scored.
3. The results page a student refreshes (`/submissions/<id>`, HTML, logged in
   through the form with its CSRF token), one fetch every --page-every
   seconds: p99 while the service is idle against p99 during the burst (from
   the first upload until every burst submission is final, so while the
   worker trains). Target: ratio <= 2.

Warm-up, not measured: `grader references build`, one `grader grade` (data
set and references cached in a GRADER_CACHE_DIR shared by the CLI and the
worker), one graded upload (the worker's slot), then quick uploads until every
gunicorn worker has connected to Redis: a web worker builds its Celery
producer on its first upload, which costs about 0.5 s once; that first
response time is printed separately.

The default submission is the PyTorch reference of digits-mlp graded on the
fixture assignment `quick-digits` (its rubric needs no references): a run
takes about 8 s on two idle cores, so the 50 burst uploads grade in about 7
minutes and the bench takes about 15 (longer on a busy machine). It prints a
table with PASS/MISS per target and exits 0, or 1 if the service lost a
submission.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
import redis
import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import OperationalError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.db import make_engine, make_sessions, transaction  # noqa: E402
from grader.models import Assignment, Role, Submission  # noqa: E402
from grader.services.accounts import create_token, create_user  # noqa: E402

BIN = Path(sys.executable).parent
FIXTURES = ROOT / "tests" / "fixtures"
QUICK_FAILURE = FIXTURES / "submissions" / "syntax_error.py"  # accepted, then fails in the sandbox at once
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
BENCH_REDIS_DBS = range(1, 8)  # the tests lease 8-15
FINAL = {"scored", "failed", "error"}
PASSWORD = "bench password 1234"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# ---------------------------------------------------------------- the stack


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """Yield the URL of a new PostgreSQL database; drop it afterwards."""
    name = f"grader_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        raise SystemExit(f"PostgreSQL is needed at 127.0.0.1:5432 (trust, a `test` database): {exc.orig}") from exc
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def redis_database() -> Iterator[str]:
    """Yield the URL of a Redis database (1-7) leased the way the tests lease 8-15; flush and free it afterwards."""
    locks = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=0)
    token = f"bench-{os.getpid()}-{uuid.uuid4().hex}"
    for db in BENCH_REDIS_DBS:
        key = f"grader-bench:lease:{db}"
        try:
            if locks.set(key, token, nx=True, ex=3 * 3600):
                break
        except redis.ConnectionError as exc:
            raise SystemExit(f"Redis is needed at {REDIS_HOST}:{REDIS_PORT}: {exc}") from exc
    else:
        raise SystemExit(f"every bench Redis database ({BENCH_REDIS_DBS.start}-{BENCH_REDIS_DBS.stop - 1}) is leased")
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        if locks.get(key) == token.encode():
            locks.delete(key)


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def service_environ(database_url: str, broker_url: str, work: Path, cache: Path, slug: str) -> dict[str, str]:
    """The environment of every process of the stack: our GRADER_* settings only."""
    fixtures = (FIXTURES / "assignments" / slug).is_dir()
    base = {k: v for k, v in os.environ.items() if not k.startswith("GRADER_")}
    return {
        **base,
        "PYTHONPATH": str(ROOT),
        "GRADER_DATABASE_URL": database_url,
        "GRADER_BROKER_URL": broker_url,
        "GRADER_DATA_DIR": str(work / "data"),
        "GRADER_CACHE_DIR": str(cache),
        "GRADER_ASSIGNMENTS_DIR": str((FIXTURES if fixtures else ROOT) / "assignments"),
        "GRADER_RUBRICS_DIR": str((FIXTURES if fixtures else ROOT) / "rubrics"),
        # Given, not generated: gunicorn workers each generating the key on first start could disagree.
        "GRADER_SECRET_KEY": secrets.token_hex(32),
    }


class Processes:
    """Long-running processes of the stack, each in its own process group so stopping takes its children."""

    def __init__(self, env: dict[str, str], logs: Path):
        self.env, self.logs = env, logs
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")
        process = subprocess.Popen(
            argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.running[name] = process
        return process

    def alive(self, name: str) -> bool:
        return self.running[name].poll() is None

    def tail(self, name: str, lines: int = 30) -> str:
        return "\n".join((self.logs / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])

    def stop_all(self) -> None:
        """SIGTERM each group (a warm shutdown), then SIGKILL what is left after 20 s."""
        for process in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)


def wait_until_up(base: str, processes: Processes, timeout: float = 60) -> None:
    """Wait for gunicorn to answer /up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not processes.alive("gunicorn"):
            raise SystemExit("gunicorn exited:\n" + processes.tail("gunicorn"))
        with contextlib.suppress(requests.RequestException):  # refused or slow while the workers boot
            if requests.get(f"{base}/up", timeout=10).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /up in time:\n" + processes.tail("gunicorn"))


@dataclass
class Student:
    email: str
    token: str


def seed(database_url: str, slug: str, students: int) -> list[Student]:
    """Insert the assignment row (nothing syncs folders into the database yet) and students with API tokens."""
    engine = make_engine(database_url)
    try:
        with transaction(make_sessions(engine)) as session:
            session.add(Assignment(slug=slug, title=f"{slug} (bench)"))
            made = []
            for n in range(students):
                email = f"bench{n}@example.org"
                user = create_user(session, email=email, role=Role.STUDENT, password=PASSWORD)
                made.append(Student(email, create_token(session, user)))
        return made
    finally:
        engine.dispose()


# ---------------------------------------------------------------- clients


def upload(http: requests.Session, base: str, student: Student, slug: str, name: str, data: bytes) -> requests.Response:
    """POST one file to API v1."""
    return http.post(
        f"{base}/api/v1/submissions",
        headers={"Authorization": f"Bearer {student.token}"},
        data={"assignment": slug},
        files={"file": (name, data)},
        timeout=60,
    )


def poll_final(http: requests.Session, base: str, student: Student, sid: int, every: float, timeout: float) -> dict:
    """GET the submission every `every` seconds until its status is final; return the last body."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = http.get(
            f"{base}/api/v1/submissions/{sid}", headers={"Authorization": f"Bearer {student.token}"}, timeout=30
        ).json()
        if body["state"] in FINAL:
            return body
        time.sleep(every)
    raise SystemExit(f"submission {sid} was not final after {timeout:.0f} s")


def browser_login(base: str, student: Student) -> requests.Session:
    """Log in through the form as a browser does (CSRF token from the page); return the session."""
    http = requests.Session()
    token = CSRF.search(http.get(f"{base}/auth/login", timeout=30).text)
    if token is None:
        raise SystemExit("no CSRF token on /auth/login")
    answer = http.post(
        f"{base}/auth/login",
        data={"email": student.email, "password": PASSWORD, "csrf_token": token.group(1)},
        timeout=30,
    )
    if answer.status_code != 200 or "/auth/login" in answer.url:
        raise SystemExit(f"logging in as {student.email} failed: {answer.status_code} at {answer.url}")
    return http


class PageSampler(threading.Thread):
    """Fetch a page every `every` seconds, recording (start, seconds, HTTP status) of each fetch."""

    def __init__(self, http: requests.Session, url: str, every: float):
        super().__init__(name="page-sampler", daemon=True)
        self.http, self.url, self.every = http, url, every
        self.samples: list[tuple[float, float, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            started = time.perf_counter()
            try:
                status = self.http.get(self.url, timeout=30).status_code
            except requests.RequestException:
                status = 0
            self.samples.append((started, time.perf_counter() - started, status))
            self.stopping.wait(self.every)

    def between(self, start: float, end: float) -> list[float]:
        """The latencies of fetches started in [start, end]."""
        return [s for t, s, _ in self.samples if start <= t <= end]

    def failures(self) -> int:
        return sum(1 for *_, status in self.samples if status != 200)


# ---------------------------------------------------------------- measurements


def parse_time(stamp: str) -> float:
    return dt.datetime.fromisoformat(stamp).timestamp()


def grade_once(env: dict[str, str], path: Path, slug: str) -> tuple[float, dict]:
    """Run `grader grade --json` and return its wall time and its result."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "grader"), "grade", str(path), "--assignment", slug, "--json"],
        env=env, cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"grader grade failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, json.loads(done.stdout.strip().splitlines()[-1])


@dataclass
class CliRound:
    total: float  # `grader grade` start -> exit
    sandbox: float  # the sandboxed run's own wall time
    sandbox_cpu: float  # and its CPU time


@dataclass
class ApiRound:
    total: float  # upload sent -> final status seen
    upload: float
    queued: float  # created_at -> started_at
    worker: float  # started_at -> finished_at
    sandbox: float  # the sandboxed run's own wall time
    sandbox_cpu: float
    visible: float  # finished_at -> seen by the poll
    status: str
    submission_id: int
    web_cpu: float = 0.0  # CPU seconds gunicorn spent meanwhile (the upload and the polls)


def api_once(base: str, student: Student, slug: str, path: Path, every: float, timeout: float) -> ApiRound:
    """Upload over the API and poll until the score is visible; split the time by the row's timestamps."""
    http = requests.Session()
    sent_wall, started = time.time(), time.perf_counter()
    answer = upload(http, base, student, slug, path.name, path.read_bytes())
    uploaded = time.perf_counter() - started
    if answer.status_code != 202:
        raise SystemExit(f"upload refused: {answer.status_code} {answer.text[:300]}")
    body = poll_final(http, base, student, answer.json()["id"], every, timeout)
    total = time.perf_counter() - started
    seen_wall = sent_wall + total
    created, begun, finished = (parse_time(body[k]) for k in ("created_at", "started_at", "finished_at"))
    return ApiRound(
        total=total,
        upload=uploaded,
        queued=begun - created,
        worker=finished - begun,
        sandbox=(body.get("resources") or {}).get("wall_s") or 0.0,
        sandbox_cpu=(body.get("resources") or {}).get("cpu_s") or 0.0,
        visible=seen_wall - finished,
        status=body["status"],
        submission_id=body["id"],
    )


@dataclass
class BurstUpload:
    client: int
    seconds: float
    http_status: int
    submission_id: int | None


def burst_client(index: int, base: str, student: Student, slug: str, path: Path, plan: list[float],
                 t0: float, out: list[BurstUpload]) -> None:  # fmt: skip
    """Send one upload at each planned moment (seconds after t0), recording each response time."""
    http, data = requests.Session(), path.read_bytes()
    for moment in plan:
        time.sleep(max(0.0, t0 + moment - time.perf_counter()))
        started = time.perf_counter()
        try:
            answer = upload(http, base, student, slug, path.name, data)
            status = answer.status_code
            sid = answer.json().get("id") if status == 202 else None
        except requests.RequestException:
            status, sid = 0, None
        out.append(BurstUpload(index, time.perf_counter() - started, status, sid))


def burst_plan(clients: int, uploads: int, spread: float, rng: random.Random) -> list[list[float]]:
    """Upload moments per client: each client's share of `spread` cut into equal slots, one jittered upload per slot."""
    per_client = [uploads // clients + (1 if c < uploads % clients else 0) for c in range(clients)]
    return [[(k + rng.random()) * spread / n for k in range(n)] for n in per_client]


def wait_all_final(database_url: str, ids: list[int], deadline: float, processes: Processes) -> dict[int, str]:
    """Watch the rows until every id is final, the deadline passes or the worker dies; return id -> state."""
    engine = make_engine(database_url)
    try:
        while True:
            with engine.connect() as connection:
                rows = connection.execute(select(Submission.id, Submission.state).where(Submission.id.in_(ids)))
                states = {sid: state.value for sid, state in rows}
            pending = [sid for sid in ids if states.get(sid) not in FINAL]
            if not pending or time.monotonic() > deadline or not processes.alive("worker"):
                return states
            time.sleep(1.0)
    finally:
        engine.dispose()


# ---------------------------------------------------------------- report


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_row(label: str, value: str, target: str = "", result: str = "") -> None:
    print(f"  {label:<46}{value:>14}  {target:<10}{result}")


def report_e2e(cli: list[CliRound], api: list[ApiRound]) -> float:
    """Print the end-to-end figures and their breakdown; return the ratio of medians."""

    def med(values: Iterator[float]) -> float:
        return statistics.median(values)

    g, a = med(r.total for r in cli), med(r.total for r in api)
    print("\nend-to-end latency (medians over the rounds, seconds)")
    print_row("grader grade FILE (wall)", f"{g:.2f}")
    print_row(
        "  of which the sandboxed run (its CPU time)",
        f"{med(r.sandbox for r in cli):.2f} ({med(r.sandbox_cpu for r in cli):.1f})",
    )
    print_row("  of which CLI start, imports, checks, scoring", f"{med(r.total - r.sandbox for r in cli):.2f}")
    print_row("upload -> score visible over the API", f"{a:.2f}")
    print_row("  upload response", f"{med(r.upload for r in api):.3f}")
    print_row("  queue wait (created -> started)", f"{med(r.queued for r in api):.3f}")
    print_row("  worker (started -> finished)", f"{med(r.worker for r in api):.2f}")
    print_row(
        "    of which the sandboxed run (its CPU time)",
        f"{med(r.sandbox for r in api):.2f} ({med(r.sandbox_cpu for r in api):.1f})",
    )
    print_row("  visibility (finished -> seen by the poll)", f"{med(r.visible for r in api):.3f}")
    print_row("  gunicorn CPU meanwhile (upload, polls)", f"{med(r.web_cpu for r in api):.2f}")
    pairs = zip(cli, api, strict=True)
    print("  per round (grade / api): " + ", ".join(f"{c.total:.1f} / {r.total:.1f}" for c, r in pairs))
    return a / g


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # progress shows up when the output goes to a file
    # Clean up on SIGTERM as on Ctrl-C; a shell starting us in the background may have set SIGINT to ignored.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=ROOT / "assignments" / "digits-mlp" / "reference_torch.py")
    parser.add_argument("--assignment", default="quick-digits", help="a fixture assignment or one in assignments/")
    parser.add_argument("--rounds", type=int, default=7, help="alternating end-to-end rounds")
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--spread", type=float, default=10.0, help="seconds the burst's uploads are spread over")
    parser.add_argument("--poll", type=float, default=0.1, help="seconds between API polls in the e2e rounds")
    parser.add_argument("--page-every", type=float, default=0.1, help="seconds between results-page fetches")
    parser.add_argument("--idle-seconds", type=float, default=30.0, help="how long the idle page is sampled")
    parser.add_argument("--web-workers", type=int, default=os.cpu_count() or 1, help="gunicorn workers (gthread)")
    parser.add_argument("--web-threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--seed", type=int, default=20250213)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="grader-bench-service-"))
    lost = 0
    try:
        with postgres_database() as database_url, redis_database() as broker_url:
            env = service_environ(database_url, broker_url, work, work / "cache", args.assignment)
            lost = run_bench(args, env, database_url, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if lost else 0


@dataclass
class Stack:
    """The running service and the students the bench acts as."""

    env: dict[str, str]
    database_url: str
    base: str
    processes: Processes
    reader: Student  # the e2e rounds' student, whose results page is sampled
    burst_students: list[Student]
    page_url: str = ""
    cold_upload: float = 0.0  # the first upload, answered by a web worker that had never sent to the broker


def run_bench(args: argparse.Namespace, env: dict[str, str], database_url: str, work: Path) -> int:
    """Start the stack, warm it, measure, print the table; return how many submissions the service lost."""
    grader, slug, path = str(BIN / "grader"), args.assignment, args.file.resolve()
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    web = f"gunicorn (gthread, {args.web_workers} workers x {args.web_threads} threads)"
    print(f"stack: PostgreSQL, Redis, {web}, one `grader worker`")
    print(f"submission: {shown} on {slug}; {os.cpu_count()} CPUs")
    subprocess.run([grader, "db", "upgrade"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    students = seed(database_url, slug, 1 + args.clients)
    print("warm-up (not measured): references and data set, one `grader grade`, uploads until every web worker is warm")
    subprocess.run([grader, "references", "build", slug], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    grade_once(env, path, slug)

    processes = Processes(env, work)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        processes.start("gunicorn", [str(BIN / "gunicorn"), "--worker-class", "gthread",
                                     "--workers", str(args.web_workers), "--threads", str(args.web_threads),
                                     "--bind", f"127.0.0.1:{port}", "grader.wsgi:app"])  # fmt: skip
        processes.start("worker", [grader, "worker", "--loglevel=info"])
        wait_until_up(base, processes)
        stack = Stack(env, database_url, base, processes, students[0], students[1:])
        warm_up(stack, args)
        return measure(stack, args)
    except BaseException:
        for name in processes.running:
            print(f"\n--- last lines of the {name} log:\n{processes.tail(name)}", file=sys.stderr)
        raise
    finally:
        processes.stop_all()


def web_workers_cold(processes: Processes) -> int:
    """How many gunicorn workers have no connection to Redis yet (each builds its Celery producer on first upload)."""
    master = psutil.Process(processes.running["gunicorn"].pid)
    workers = master.children()
    warm = sum(1 for w in workers if any(c.raddr and c.raddr.port == REDIS_PORT for c in w.net_connections("tcp")))
    return len(workers) - warm


def warm_up(stack: Stack, args: argparse.Namespace, tries: int = 12) -> None:
    """Grade one upload (the worker's slot warms; its page is the one sampled), then warm every web worker.

    A web worker builds its Celery producer on its first upload (about 0.5 s,
    reported as the cold upload); which worker takes a request is up to the
    kernel, so send quick uploads (a syntax error: it fails in a second) until
    each has connected to Redis.
    """
    slug, path = args.assignment, args.file.resolve()
    first = api_once(stack.base, stack.reader, slug, path, args.poll, timeout=600)
    if first.status != "scored":
        raise SystemExit(f"the warm-up upload ended {first.status}:\n{stack.processes.tail('worker')}")
    stack.cold_upload, stack.page_url = first.upload, f"{stack.base}/submissions/{first.submission_id}"
    for _ in range(tries):
        if not web_workers_cold(stack.processes):
            return
        api_once(stack.base, stack.reader, slug, QUICK_FAILURE, args.poll, timeout=600)
    print(f"  note: {web_workers_cold(stack.processes)} web worker(s) still cold after {tries} warm-up uploads")


def measure(stack: Stack, args: argparse.Namespace) -> int:
    """Run the three measurements, print the table; return the number of submissions lost."""
    cli, api = measure_e2e(stack, args)
    print(f"results page: idle for {args.idle_seconds:.0f} s")
    sampler = PageSampler(browser_login(stack.base, stack.reader), stack.page_url, args.page_every)
    sampler.start()
    idle = (time.perf_counter(), time.perf_counter() + args.idle_seconds)
    time.sleep(args.idle_seconds)
    burst = run_burst(stack, args, max(600.0, 4 * args.uploads * statistics.median(r.worker for r in api)))
    sampler.stopping.set()
    sampler.join()

    ratio_e2e = report_e2e(cli, api)
    times = report_burst(burst, stack)
    pages = report_pages(sampler, idle, burst, stack.page_url.removeprefix(stack.base), args.page_every)
    lost, scored, p99 = burst.lost(), burst.scored(), pct(times, 99)
    print("\ntargets")
    print_row("e2e: API median / grader grade median", f"{ratio_e2e:.2f}", "<= 1.1", verdict(ratio_e2e <= 1.1))
    print_row("burst: upload response p99 (ms)", f"{p99:.0f}", "< 250", verdict(p99 < 250))
    print_row("burst: lost", str(lost), "0", verdict(lost == 0))
    print_row("burst: scored", f"{scored}/{args.uploads}", "all", verdict(scored == args.uploads))
    print_row("results page p99: burst / idle", f"{pages:.2f}", "<= 2", verdict(pages <= 2))
    if lost:
        print("\nworker log tail:\n" + stack.processes.tail("worker"))
    return lost


def measure_e2e(stack: Stack, args: argparse.Namespace) -> tuple[list[CliRound], list[ApiRound]]:
    """Alternate `grader grade` and an upload over the API, `args.rounds` times each."""
    print(f"end-to-end: {args.rounds} alternating rounds")
    slug, path = args.assignment, args.file.resolve()
    cli, api = [], []
    for _ in range(args.rounds):
        wall, result = grade_once(stack.env, path, slug)
        cli.append(CliRound(wall, result["resources"]["wall_s"], result["resources"]["cpu_s"]))
        web_cpu = web_cpu_seconds(stack.processes)
        api.append(api_once(stack.base, stack.reader, slug, path, args.poll, timeout=600))
        api[-1].web_cpu = web_cpu_seconds(stack.processes) - web_cpu
    return cli, api


def web_cpu_seconds(processes: Processes) -> float:
    """CPU seconds used so far by gunicorn's workers."""
    total = 0.0
    for worker in psutil.Process(processes.running["gunicorn"].pid).children():
        with contextlib.suppress(psutil.Error):
            times = worker.cpu_times()
            total += times.user + times.system
    return total


@dataclass
class Burst:
    """What the burst's clients saw, and the rows' states at the end (id -> state)."""

    uploads: list[BurstUpload]
    states: dict[int, str]
    start: float  # perf_counter of the first planned upload
    uploads_end: float  # every client done
    end: float  # every accepted submission final (or the wait gave up)

    def ids(self) -> list[int]:
        return [u.submission_id for u in self.uploads if u.submission_id is not None]

    def refused(self) -> list[BurstUpload]:
        return [u for u in self.uploads if u.http_status != 202]

    def missing(self) -> list[int]:
        return [sid for sid in self.ids() if sid not in self.states]

    def unfinished(self) -> list[int]:
        return [sid for sid in self.ids() if sid in self.states and self.states[sid] not in FINAL]

    def lost(self) -> int:
        """Uploads the service did not take, or took and never finished: each is a student's lost work."""
        return len(self.refused()) + len(self.missing()) + len(self.unfinished())

    def scored(self) -> int:
        return sum(1 for sid in self.ids() if self.states.get(sid) == "scored")


def run_burst(stack: Stack, args: argparse.Namespace, budget: float) -> Burst:
    """Send the burst from one thread per client, then wait (up to `budget` s) until every submission is final."""
    spread = f"{args.spread:.0f} s"
    print(f"burst: {args.uploads} uploads from {args.clients} clients over {spread}, then until all are final")
    slug, path = args.assignment, args.file.resolve()
    plans = burst_plan(args.clients, args.uploads, args.spread, random.Random(args.seed))
    uploads: list[BurstUpload] = []
    start = time.perf_counter() + 0.5
    clients = [
        threading.Thread(target=burst_client, args=(i, stack.base, student, slug, path, plan, start, uploads))
        for i, (student, plan) in enumerate(zip(stack.burst_students, plans, strict=True))
    ]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    uploads_end = time.perf_counter()
    ids = [u.submission_id for u in uploads if u.submission_id is not None]
    states = wait_all_final(stack.database_url, ids, time.monotonic() + budget, stack.processes)
    return Burst(uploads, states, start, uploads_end, time.perf_counter())


def report_burst(burst: Burst, stack: Stack) -> list[float]:
    """Print the burst's figures; return the upload response times in ms."""
    times = [u.seconds * 1000 for u in burst.uploads]
    refused, missing, unfinished = burst.refused(), burst.missing(), burst.unfinished()
    print(f"\nburst ({len(burst.uploads)} uploads; all final {burst.end - burst.start:.0f} s after the first)")
    print_row("upload response p50 / p95 (ms)", f"{pct(times, 50):.0f} / {pct(times, 95):.0f}")
    print_row("upload response max (ms)", f"{max(times):.0f}")
    print_row("first upload to a cold web worker (ms; warm-up)", f"{stack.cold_upload * 1000:.0f}")
    print_row("refused (not 202) / no row / never final", f"{len(refused)} / {len(missing)} / {len(unfinished)}")
    if refused:
        print("  refusals: " + ", ".join(sorted({str(u.http_status) for u in refused})))
    return times


def report_pages(sampler: PageSampler, idle: tuple[float, float], burst: Burst, page: str, every: float) -> float:
    """Print the results page's latencies idle and during the burst; return p99 burst / p99 idle."""
    windows = {
        "idle": sampler.between(*idle),
        "while uploads arrive": sampler.between(burst.start, burst.uploads_end),
        "whole burst": sampler.between(burst.start, burst.end),
    }
    print(f"\nresults page {page} (ms; one fetch every {every} s)")
    for name, seconds in windows.items():
        figures = f"{pct(seconds, 50) * 1000:.0f} / {pct(seconds, 99) * 1000:.0f}"
        print_row(f"{name}: {len(seconds)} fetches, p50 / p99", figures)
    print_row("fetches that were not 200", str(sampler.failures()))
    return pct(windows["whole burst"], 99) / pct(windows["idle"], 99)


if __name__ == "__main__":
    sys.exit(main())
