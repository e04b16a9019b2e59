"""The production contract of docker/: what compose.yaml and the Dockerfiles promise.

There is no Docker daemon on the test machines, so the files are parsed and
checked for what a reviewer would check; the worker's entry point and health
check, which are shell commands, are run for real on this machine.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
WORKERS = ("gpu-worker", "cpu-worker")


def load_compose() -> dict:
    """compose.yaml with its YAML anchors and merge keys resolved (as compose does)."""
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def dockerfile(name: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for line in (DOCKER / name).read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip().removesuffix("\\") + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            instructions.append((word.upper(), rest.strip()))
            pending = ""
    return instructions


def args_of(instructions: list[tuple[str, str]], word: str) -> list[str]:
    return [rest for name, rest in instructions if name == word]


def exec_form(text: str) -> list[str]:
    """The argv of a JSON (exec form) CMD or ENTRYPOINT."""
    return yaml.safe_load(text)


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def test_every_service_is_health_checked_or_one_shot(services):
    one_shot = {
        name for name, service in services.items()
        if any(dep.get("condition") == "service_completed_successfully"
               for other in services.values() for key, dep in (other.get("depends_on") or {}).items() if key == name)
    }  # fmt: skip
    assert one_shot == {"migrate"}
    assert (
        services["migrate"]["command"] == ["sh", "-c", "grader db upgrade && grader assignments sync"]
        and services["migrate"]["restart"] == "no"
    )
    for name, service in services.items():
        if name not in one_shot:
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
            assert service.get("restart") == "unless-stopped", name


def test_web_and_workers_start_on_a_migrated_database_and_healthy_servers(services):
    for name in ("web", *WORKERS):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "redis": {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"},
        }, name
    assert services["migrate"]["depends_on"] == {  # its sync queues the reference builds on redis
        "redis": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }


def test_web_runs_gunicorn_on_the_wsgi_app_and_checks_liveness(services):
    web = services["web"]
    assert web["command"][0] == "gunicorn" and web["command"][-1] == "grader.wsgi:app"
    assert "http://127.0.0.1:8000/up'" in " ".join(web["healthcheck"]["test"])
    assert web["ports"] == ["${GRADER_WEB_PORT:-8000}:8000"]
    cmd = exec_form(args_of(dockerfile("web.Dockerfile"), "CMD")[-1])
    assert cmd[0] == "gunicorn" and cmd[-1] == "grader.wsgi:app"


def test_the_gpu_worker_reserves_nvidia_gpus_and_the_cpu_worker_none(services):
    devices = services["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    assert "deploy" not in services["cpu-worker"]
    assert services["cpu-worker"]["environment"]["NVIDIA_VISIBLE_DEVICES"] == "void"


def mounts(service: dict) -> dict[str, dict]:
    """target -> {type, source, read_only} of a service's volumes, short and long syntax."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target, *mode = volume.split(":")
            found[target] = {"type": "volume", "source": source, "read_only": mode == ["ro"]}
        else:
            found[volume["target"]] = {"type": volume["type"], "source": volume.get("source"),
                                       "read_only": volume.get("read_only", False)}  # fmt: skip
    return found


def test_workers_share_the_uploads_with_web_and_run_on_a_tmpfs(compose, services):
    data_dir = services["web"]["environment"]["GRADER_DATA_DIR"]
    assert mounts(services["web"])[data_dir] == {"type": "volume", "source": "uploads", "read_only": False}
    assert "uploads" in compose["volumes"]
    for name in WORKERS:
        env = services[name]["environment"]
        assert (
            env["GRADER_DATA_DIR"] == data_dir
            and env["GRADER_DATABASE_URL"] == services["web"]["environment"]["GRADER_DATABASE_URL"]
        )
        assert mounts(services[name])[data_dir] == {"type": "volume", "source": "uploads", "read_only": True}
        assert mounts(services[name])[env["GRADER_RUN_DIR"]]["type"] == "tmpfs", name


def test_workers_get_the_least_the_sandbox_needs(services):
    for name in WORKERS:
        worker = services[name]
        assert worker["cgroup"] == "private" and worker["cap_add"] == ["SYS_ADMIN"]
        assert sorted(worker["security_opt"]) == ["apparmor=unconfined", "seccomp=unconfined", "systempaths=unconfined"]
        assert not worker.get("privileged") and worker["init"] is True
        assert "ping -d celery@$$HOSTNAME" in worker["healthcheck"]["test"][1]


def test_no_secret_is_written_into_the_files(services):
    for name, service in services.items():
        env = service.get("environment") or {}
        for key, value in env.items():
            if re.search("PASSWORD|SECRET|TOKEN", key):
                assert re.fullmatch(r"\$\{\w+:\?[^}]+\}", str(value)), f"{name}: {key} must come from docker/.env"
    url = services["web"]["environment"]["GRADER_DATABASE_URL"]
    assert re.fullmatch(r"postgresql\+psycopg://grader:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432/grader", url)
    for name in ("web.Dockerfile", "worker.Dockerfile"):
        for word in ("ENV", "ARG"):
            for rest in args_of(dockerfile(name), word):
                assert not re.search("PASSWORD|SECRET|TOKEN|DATABASE_URL|BROKER_URL", rest), f"{name}: {word} {rest}"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "instance", "docker/.env"} <= set(ignored)


def test_the_worker_image_installs_bubblewrap_and_starts_grader_worker():
    worker = dockerfile("worker.Dockerfile")
    installs = " ".join(rest for rest in args_of(worker, "RUN") if "apt-get install" in rest).split()
    assert {"bubblewrap", "util-linux", "mount", "python3-venv"} <= set(installs)
    assert exec_form(args_of(worker, "CMD")[-1]) == ["grader", "worker"]
    entrypoint = exec_form(args_of(worker, "ENTRYPOINT")[-1])
    assert entrypoint == ["/usr/local/bin/grader-worker-entrypoint"]
    assert "docker/entrypoint-worker.sh /usr/local/bin/grader-worker-entrypoint" in args_of(worker, "COPY")
    assert (DOCKER / "entrypoint-worker.sh").read_text().rstrip().endswith('exec "$@"')


def test_images_pin_the_torch_of_pyproject_and_match_cuda():
    pinned = [d for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
              if d.startswith("torch==")]  # fmt: skip
    assert pinned == ["torch==2.13.0"]
    for name in ("web.Dockerfile", "worker.Dockerfile"):
        instructions = dockerfile(name)
        assert "TORCH_VERSION=2.13.0" in args_of(instructions, "ARG"), name
        assert any(
            '"torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"' in r for r in args_of(instructions, "RUN")
        )
    worker_args = dict(arg.split("=", 1) for arg in args_of(dockerfile("worker.Dockerfile"), "ARG") if "=" in arg)
    cuda = re.fullmatch(r"nvidia/cuda:(\d+)\.(\d+)\.\d+-runtime-ubuntu\d+\.\d+", worker_args["CUDA_IMAGE"])
    assert cuda, worker_args["CUDA_IMAGE"]
    assert worker_args["TORCH_INDEX_URL"].endswith(f"/whl/cu{cuda[1]}{cuda[2]}")
    assert args_of(dockerfile("worker.Dockerfile"), "FROM") == ["${CUDA_IMAGE}"]
    web_args = dict(arg.split("=", 1) for arg in args_of(dockerfile("web.Dockerfile"), "ARG") if "=" in arg)
    assert web_args["TORCH_INDEX_URL"].endswith("/whl/cpu")


def test_every_file_the_images_copy_is_in_the_repository():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    for name in ("web.Dockerfile", "worker.Dockerfile"):
        for rest in args_of(dockerfile(name), "COPY"):
            *sources, _target = shlex.split(rest)
            for source in sources:
                assert (ROOT / source).exists(), f"{name} copies {source}, which is missing"
                assert source not in ignored and source.split("/")[0] not in ignored, f"{source} is in .dockerignore"


def test_the_compose_file_builds_from_the_repository_root(services):
    for name in ("migrate", "web", *WORKERS):
        build = services[name]["build"]
        assert (DOCKER / build["context"] / build["dockerfile"]).resolve().is_file(), name
