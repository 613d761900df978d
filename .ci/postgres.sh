#!/usr/bin/env bash
# PostgreSQL on 127.0.0.1:$PG_PORT (default 5432), user postgres, trust auth over local TCP, for the store's tests.
# Does nothing when something already answers there. Otherwise installs Debian's postgresql when missing, creates a
# cluster when there is none, lets local TCP connections in without a password, starts it and waits for it.
# PG_DRY_RUN=1 prints the commands instead of running them (tests/packaging/test_ci.py).
set -euo pipefail

PG_PORT="${PG_PORT:-5432}"
PG_CLUSTER="${PG_CLUSTER:-shipbot}"  # the name of a cluster this script creates

run() {
  if [ "${PG_DRY_RUN:-0}" = 1 ]; then echo "+ $*"; else "$@"; fi
}

answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT"
  else
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$PG_PORT" 2>/dev/null
  fi
}

if answers; then
  echo "postgres: 127.0.0.1:$PG_PORT answers"
  exit 0
fi

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  run $SUDO apt-get update -qq
  run $SUDO apt-get install -y -qq --no-install-recommends postgresql
fi

version="$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1)"
version="${version:-15}"
cluster="$(pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p {print $1 " " $2; exit}')"
if [ -z "$cluster" ]; then
  run $SUDO pg_createcluster --port "$PG_PORT" "$version" "$PG_CLUSTER"
  cluster="$version $PG_CLUSTER"
fi
set -- $cluster
hba="/etc/postgresql/$1/$2/pg_hba.conf"
if [ "${PG_DRY_RUN:-0}" = 1 ] || ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba" 2>/dev/null; then
  # first matching line wins: trust for local TCP goes before the packaged scram lines
  run $SUDO sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
fi
run $SUDO pg_ctlcluster "$1" "$2" start || run $SUDO pg_ctlcluster "$1" "$2" reload

if [ "${PG_DRY_RUN:-0}" = 1 ]; then exit 0; fi
for _ in $(seq 1 60); do
  answers && { echo "postgres: started cluster $1/$2 on 127.0.0.1:$PG_PORT"; exit 0; }
  sleep 0.5
done
echo "postgres: cluster $1/$2 does not answer on 127.0.0.1:$PG_PORT" >&2
exit 1
