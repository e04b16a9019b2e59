"""Configuration: the one module that reads the environment.

Every setting is a `GRADER_*` variable with a default that works on one
machine; everything else in grader receives values from here as arguments.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class Settings:
    """Settings of the grading engine."""

    assignments_dir: Path
    rubrics_dir: Path
    cache_dir: Path  # prepared data sets and reference results, outside the source tree
    run_dir: Path  # per-run scratch: on a tmpfs, so a run's files count against its memory
    bwrap: str
    cgroup_parent: str
    sandbox_uid: int  # the unprivileged host uid and gid runs get when the worker is root
    upload_max_bytes: int
    data_dir: Path  # uploads (content-addressed blobs), the SQLite files of the embedded default
    database_url: str
    broker_url: str
    secret_key: str | None  # None: generated once and kept in data_dir
    max_attempts: int  # deliveries of one submission before it ends as an infrastructure error
    task_soft_time_limit: float = 1800.0  # s; above any sandbox wall limit (a run may first build references)
    heartbeat_seconds: float = 5.0  # how often a running submission proves its worker is alive
    stale_after_seconds: float = 60.0  # a running submission without a heartbeat this long is requeued
    queued_stale_after_seconds: float = 900.0  # a queued submission not picked up this long is sent again
    sweep_seconds: float = 30.0  # how often each worker sweeps for stuck submissions
    retry_seconds: float = 10.0  # wait after an infrastructure failure before the next attempt
    log_format: str = "text"  # "text" (submission=<id> in the line) or "json" (one object per line)
    session_hours: float = 12.0  # a login lasts this long at most; logout, a password change or staff end it sooner
    secure_cookies: bool = False  # send cookies over HTTPS only (on in docker/, where TLS ends at a proxy)
    proxy_hops: int = 0  # reverse proxies in front whose X-Forwarded-For/-Proto are trusted (docker/: 1)
    login_account_limit: int = 10  # failed logins per account within the window before refusals
    login_address_limit: int = 50  # failed logins per client address within the window before refusals
    login_window_seconds: float = 900.0
    upload_checks_at_once: int = 4  # uploads unpacked for checking at once on one machine (the rest wait)
    upload_check_wait_seconds: float = 10.0  # the longest an upload waits for that; then 503, try again
    # The warm pool of each worker slot (grader.sandbox.warm): pool -> warm sandboxes kept ({}: off)
    warm_pools: dict[str, int] = dataclasses.field(default_factory=lambda: dict(DEFAULT_WARM_POOLS))
    warm_idle_seconds: float = 600.0  # a warm sandbox unused this long is retired until work comes

    @property
    def task_time_limit(self) -> float:
        """The hard limit: the soft limit plus time to write the result."""
        return self.task_soft_time_limit + 120.0

    @property
    def visibility_timeout(self) -> float:
        """Redis redelivers an unacknowledged message after this; above the hard limit so it never does so mid-run."""
        return self.task_time_limit + 600.0


def _default_run_dir() -> Path:
    shm = Path("/dev/shm")
    return shm / "grader-runs" if shm.is_dir() and os.access(shm, os.W_OK) else Path("/tmp/grader-runs")


def _default_cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "grader"


@dataclasses.dataclass(frozen=True)
class ClientSettings:
    """Where `grader submit` sends uploads and as whom (options of the command override them)."""

    server_url: str
    token: str | None


def load_client_settings(environ: dict[str, str] | None = None) -> ClientSettings:
    """Read `GRADER_SERVER_URL` and `GRADER_TOKEN`."""
    env = os.environ if environ is None else environ
    return ClientSettings(
        server_url=env.get("GRADER_SERVER_URL") or "http://127.0.0.1:5000",
        token=env.get("GRADER_TOKEN") or None,
    )


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read the settings from `GRADER_*` variables (os.environ by default)."""
    env = os.environ if environ is None else environ

    def path(name: str, default: Path) -> Path:
        value = env.get(f"GRADER_{name}")
        return Path(value).expanduser() if value else default

    data_dir = path("DATA_DIR", PROJECT_ROOT / "instance")
    return Settings(
        assignments_dir=path("ASSIGNMENTS_DIR", PROJECT_ROOT / "assignments"),
        rubrics_dir=path("RUBRICS_DIR", PROJECT_ROOT / "rubrics"),
        cache_dir=path("CACHE_DIR", _default_cache_dir()),
        run_dir=path("RUN_DIR", _default_run_dir()),
        bwrap=env.get("GRADER_BWRAP", "bwrap"),
        cgroup_parent=env.get("GRADER_CGROUP_PARENT", "grader"),
        sandbox_uid=int(env.get("GRADER_SANDBOX_UID", 60000)),
        upload_max_bytes=int(env.get("GRADER_UPLOAD_MAX_BYTES", 10 * 1024**2)),
        data_dir=data_dir,
        database_url=env.get("GRADER_DATABASE_URL", f"sqlite:///{data_dir / 'grader.db'}"),
        broker_url=env.get("GRADER_BROKER_URL", f"sqla+sqlite:///{data_dir / 'broker.db'}"),
        secret_key=env.get("GRADER_SECRET_KEY") or None,
        max_attempts=int(env.get("GRADER_MAX_ATTEMPTS", 3)),
        task_soft_time_limit=float(env.get("GRADER_TASK_SOFT_TIME_LIMIT", 1800)),
        heartbeat_seconds=float(env.get("GRADER_HEARTBEAT_SECONDS", 5)),
        stale_after_seconds=float(env.get("GRADER_STALE_AFTER_SECONDS", 60)),
        queued_stale_after_seconds=float(env.get("GRADER_QUEUED_STALE_AFTER_SECONDS", 900)),
        sweep_seconds=float(env.get("GRADER_SWEEP_SECONDS", 30)),
        retry_seconds=float(env.get("GRADER_RETRY_SECONDS", 10)),
        log_format=_log_format(env.get("GRADER_LOG_FORMAT", "text")),
        session_hours=float(env.get("GRADER_SESSION_HOURS", 12)),
        secure_cookies=_flag("GRADER_SECURE_COOKIES", env.get("GRADER_SECURE_COOKIES", "false")),
        proxy_hops=int(env.get("GRADER_PROXY_HOPS", 0)),
        login_account_limit=int(env.get("GRADER_LOGIN_ACCOUNT_LIMIT", 10)),
        login_address_limit=int(env.get("GRADER_LOGIN_ADDRESS_LIMIT", 50)),
        login_window_seconds=float(env.get("GRADER_LOGIN_WINDOW_SECONDS", 900)),
        upload_checks_at_once=int(env.get("GRADER_UPLOAD_CHECKS_AT_ONCE", 4)),
        upload_check_wait_seconds=float(env.get("GRADER_UPLOAD_CHECK_WAIT_SECONDS", 10)),
        warm_pools=parse_warm_pools(env.get("GRADER_WARM_POOLS", DEFAULT_WARM_POOLS_TEXT)),
        warm_idle_seconds=float(env.get("GRADER_WARM_IDLE_SECONDS", 600)),
    )


WARM_POOL_NAMES = ("torch", "keras", "lightning", "none")  # grader.harness.protocol.WARM_POOLS
DEFAULT_WARM_POOLS_TEXT = "torch:1,keras:1,lightning:1,none:1"


def parse_warm_pools(text: str) -> dict[str, int]:
    """Read GRADER_WARM_POOLS: `pool:size` pairs separated by commas (`torch:2,keras:1`); `off` or empty: none."""
    if text.strip().lower() in ("", "off", "0", "none:0"):
        return {}
    pools: dict[str, int] = {}
    for item in text.split(","):
        name, _, size = item.strip().partition(":")
        if name not in WARM_POOL_NAMES or not size.strip().isdigit():
            raise ValueError(
                f"GRADER_WARM_POOLS: {item.strip()!r} is not pool:size with a pool among "
                f"{', '.join(WARM_POOL_NAMES)} and a whole number, e.g. {DEFAULT_WARM_POOLS_TEXT}; or off"
            )
        pools[name] = int(size)
    return {name: size for name, size in pools.items() if size > 0}


DEFAULT_WARM_POOLS = parse_warm_pools(DEFAULT_WARM_POOLS_TEXT)


def _flag(name: str, value: str) -> bool:
    """Read a yes/no setting: true/false, yes/no, on/off or 1/0 (any case); anything else stops the start."""
    word = value.strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"{name} must be true or false, not {value!r}")


def _log_format(value: str) -> str:
    """Accept `text` or `json` (any case); anything else is a mistake worth stopping for."""
    if value.strip().lower() not in ("text", "json"):
        raise ValueError(f"GRADER_LOG_FORMAT must be 'text' or 'json', not {value!r}")
    return value.strip().lower()
