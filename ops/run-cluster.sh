#!/usr/bin/env bash
# The production topology as plain processes on this machine, without containers:
# a throwaway PostgreSQL, the S3 test server (moto) with an object-locked bucket,
# 2 api processes on different ports and 2 scheduler processes.
#
#   ops/run-cluster.sh start [DIR]   # prints the API URLs; state and logs go to DIR
#   ops/run-cluster.sh stop DIR      # stops every process and the database, keeps logs
#
# Environment: PG_BIN (default /usr/lib/postgresql/15/bin), VENV (default .venv),
# FIELDCASE_JOB_INTERVALS (e.g. "escalations.sweep=2": faster jobs for tests),
# SCHEDULER_CLOCK_OFFSET_SECONDS (moves only the schedulers' clock ahead: deadlines come due).
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PY="$VENV/bin/python"
FIELDCASE="$VENV/bin/fieldcase"

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

wait_http() {  # url, seconds
  for _ in $(seq 1 $(( $2 * 5 ))); do
    if curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "no answer from $1" >&2
  return 1
}

start() {
  DIR=${1:-$(mktemp -d /tmp/fieldcase-cluster-XXXXXX)}
  mkdir -p "$DIR/logs"
  DIR=$(cd "$DIR" && pwd)
  PG_PORT=$(free_port); S3_PORT=$(free_port); API1=$(free_port); API2=$(free_port)

  mkdir -p "$DIR/pg"
  if [ "$(id -u)" = 0 ]; then  # initdb runs as postgres, which must reach its folder
    chmod 755 "$DIR"; chown postgres "$DIR/pg"; chmod 700 "$DIR/pg"
  fi
  as_postgres "$PG_BIN/initdb" -D "$DIR/pg/data" -A trust -U postgres -E UTF8 --locale=C >"$DIR/logs/initdb.log"
  as_postgres "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/log" -w -t 60 \
    -o "-p $PG_PORT -k $DIR/pg -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
  as_postgres "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE fieldcase"

  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$DIR/logs/s3.log" 2>&1 &
  echo $! >"$DIR/s3.pid"
  wait_http "http://127.0.0.1:$S3_PORT/" 30
  "$PY" - "$S3_PORT" <<'PY'
import sys
from minio import Minio
client = Minio(f"127.0.0.1:{sys.argv[1]}", access_key="testing", secret_key="testing-secret", secure=False, region="us-east-1")
if not client.bucket_exists("fieldcase"):
    client.make_bucket("fieldcase", object_lock=True)
PY

  cat >"$DIR/cluster.env" <<ENV
FIELDCASE_DATABASE_URL=postgresql://postgres@127.0.0.1:$PG_PORT/fieldcase
FIELDCASE_STORAGE_URL='minio://testing:testing-secret@127.0.0.1:$S3_PORT/fieldcase?secure=false&region=us-east-1'
FIELDCASE_SECRET_KEY=cluster-secret-key-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
FIELDCASE_VAR_DIR=$DIR/var
FIELDCASE_ARGON2_TIME_COST=${FIELDCASE_ARGON2_TIME_COST:-2}
FIELDCASE_ARGON2_MEMORY_KIB=${FIELDCASE_ARGON2_MEMORY_KIB:-19456}
FIELDCASE_LOG_LEVEL=INFO
PG_PORT=$PG_PORT
API1_URL=http://127.0.0.1:$API1
API2_URL=http://127.0.0.1:$API2
ENV
  set -a; . "$DIR/cluster.env"; set +a

  "$FIELDCASE" migrate >"$DIR/logs/migrate.log"
  for port in "$API1" "$API2"; do
    "$FIELDCASE" serve --port "$port" >"$DIR/logs/api-$port.log" 2>&1 &
    echo $! >>"$DIR/api.pids"
  done
  for n in 1 2; do
    FIELDCASE_CLOCK_OFFSET_SECONDS=${SCHEDULER_CLOCK_OFFSET_SECONDS:-0} \
      "$FIELDCASE" scheduler >"$DIR/logs/scheduler-$n.log" 2>&1 &
    echo $! >>"$DIR/scheduler.pids"
  done
  wait_http "http://127.0.0.1:$API1/health" 60
  wait_http "http://127.0.0.1:$API2/health" 60
  echo "cluster in $DIR"
  echo "api: http://127.0.0.1:$API1 http://127.0.0.1:$API2  (environment: $DIR/cluster.env)"
}

stop() {
  DIR=${1:?usage: run-cluster.sh stop DIR}
  for file in "$DIR/scheduler.pids" "$DIR/api.pids" "$DIR/s3.pid"; do
    [ -f "$file" ] || continue
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$file"
    while read -r pid; do
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done <"$file"
    rm -f "$file"
  done
  if [ -d "$DIR/pg/data" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -m fast -w stop >/dev/null || true
  fi
  echo "cluster in $DIR stopped"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 start [DIR] | stop DIR" >&2; exit 2 ;;
esac
