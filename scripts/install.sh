#!/usr/bin/env bash
# Install grader on a fresh Debian/Ubuntu machine: bubblewrap, a virtual
# environment in .venv, and the Python packages. With --test, also what the
# test suite talks to: Redis on 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432
# (trust authentication, database `test`), installed and started if missing,
# and Debian's Chromium for the browser tests.
#
# PyTorch is pinned to 2.13.0. On a CPU machine pip takes the CPU wheel; on a
# GPU machine set TORCH_INDEX_URL to PyTorch's CUDA index first, for example
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 bash scripts/install.sh
# (TensorFlow finds CUDA through `pip install tensorflow[and-cuda]`, see README).
set -euo pipefail
cd "$(dirname "$0")/.."

with_test=0
[[ "${1:-}" == "--test" ]] && with_test=1

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
((with_test)) && ! command -v redis-server >/dev/null && missing+=(redis-server)
((with_test)) && ! command -v pg_ctlcluster >/dev/null && missing+=(postgresql)
((with_test)) && ! command -v chromium >/dev/null && missing+=(chromium)  # browser tests (Playwright, executablePath)
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  # Another apt (unattended upgrades, a second install) may hold the dpkg lock: wait for it, bounded.
  lock_wait=${APT_LOCK_TIMEOUT:-600}
  if fuser /var/lib/dpkg/lock-frontend /var/lib/apt/lists/lock >/dev/null 2>&1; then
    echo "another apt is running; waiting up to ${lock_wait} s for its lock"
  fi
  apt_get() { as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$lock_wait" "$@"; }
  apt_get update -qq
  apt_get install -y -qq "${missing[@]}" >/dev/null
fi

if ((with_test)) && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting redis on 127.0.0.1:6379"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/grader.log
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

if ((with_test)) && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "starting postgresql on 127.0.0.1:5432"
  version=$(ls /etc/postgresql | sort -n | tail -1)
  conf=/etc/postgresql/$version/main
  # Trust local TCP connections, as the test suite expects (a throwaway test server).
  grep -q "grader-test" "$conf/pg_hba.conf" ||
    as_root sed -i '1i host all all 127.0.0.1/32 trust # grader-test\nhost all all ::1/128 trust # grader-test' "$conf/pg_hba.conf"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.1; done
fi
if ((with_test)) && ! psql -h 127.0.0.1 -U postgres -tAc "select 1 from pg_database where datname='test'" | grep -q 1; then
  psql -h 127.0.0.1 -U postgres -c "create database test" >/dev/null
fi

python=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
extras=""
((with_test)) && extras="[test]"
.venv/bin/python -m pip install -q -e ".${extras}"
echo "grader installed in .venv"
