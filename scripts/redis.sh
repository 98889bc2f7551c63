#!/usr/bin/env bash
# Our own throwaway Redis under <repo>/.services/redis (not the Debian system service).
# Usage: scripts/redis.sh start|stop|status    Env: REDIS_PORT_MUSICBUD (default 63799),
#   REDIS_DIR_MUSICBUD (default <repo>/.services/redis; a second instance needs its own)
# status exits 0 when up, 3 when down.
set -euo pipefail
LOG_TAG=redis
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

R_DIR="${REDIS_DIR_MUSICBUD:-$SERVICES_DIR/redis}"
PIDFILE="$R_DIR/redis.pid"
LOGFILE="$R_DIR/redis.log"
PORT="$REDIS_PORT_MUSICBUD"

is_up() {
  command -v redis-cli >/dev/null || return 1
  [[ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" == PONG ]]
}

start() {
  take_lock redis
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server
  if is_up; then log "already up on 127.0.0.1:$PORT"; return 0; fi
  mkdir -p "$R_DIR"
  log "starting on 127.0.0.1:$PORT"
  # 9>&-: the daemon must not inherit our lock fd (it would hold the lock forever).
  # Everything on the command line: no config file to keep in sync. Cache/broker only,
  # so no persistence.
  redis-server --bind 127.0.0.1 --port "$PORT" --protected-mode yes \
    --daemonize yes --pidfile "$PIDFILE" --logfile "$LOGFILE" --dir "$R_DIR" \
    --save '' --appendonly no 9>&- \
    || die "redis-server failed to launch (log: $LOGFILE)"
  for _ in $(seq 1 50); do is_up && break; sleep 0.2; done
  is_up || { tail -n 20 "$LOGFILE" >&2 || true; die "redis not answering PING on port $PORT (log: $LOGFILE)"; }
  log "up: redis://127.0.0.1:$PORT/0"
}

stop() {
  take_lock redis
  local pid=""
  [[ -s $PIDFILE ]] && pid="$(cat "$PIDFILE")"
  if is_up; then
    # SHUTDOWN closes the connection, so redis-cli's exit status is meaningless here.
    timeout 5 redis-cli -h 127.0.0.1 -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
  fi
  # Wait for the process to go (and kill it if SHUTDOWN didn't work, e.g. wrong port).
  if [[ -n $pid ]]; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null && grep -q redis "/proc/$pid/comm" 2>/dev/null; then
      kill "$pid"; sleep 0.5
    fi
    rm -f "$PIDFILE"
  fi
  is_up && die "something still answers on port $PORT"
  log "stopped"
}

status() {
  if is_up; then echo "redis: up (127.0.0.1:$PORT)"; return 0; fi
  echo "redis: down"; return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
