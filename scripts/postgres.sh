#!/usr/bin/env bash
# Our own PostgreSQL cluster under <repo>/.services/postgres (not the Debian system cluster).
# Usage: scripts/postgres.sh start|stop|status    Env: PGPORT_MUSICBUD (default 54329),
#   PG_DIR_MUSICBUD (default <repo>/.services/postgres; a second instance needs its own, under .services/)
# status exits 0 when up, 3 when down.
set -euo pipefail
LOG_TAG=postgres
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_DIR="${PG_DIR_MUSICBUD:-$SERVICES_DIR/postgres}"
DATA="$PG_DIR/data"
RUN="$PG_DIR/run"            # unix socket dir
LOGFILE="$PG_DIR/postgres.log"
PORT="$PGPORT_MUSICBUD"
PG_OS_USER=postgres          # postgres refuses to run as root; use the Debian package's user

# Newest installed server version's bin dir (Debian puts them under /usr/lib/postgresql/N/bin).
find_pgbin() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
  [[ -n $d && -x $d/initdb ]] && echo "$d"
}

# Run a command as the postgres OS user, from / so an unreadable cwd doesn't bother it.
as_pg() { (cd / && runuser -u "$PG_OS_USER" -- "$@"); }

is_up() {
  local pgbin; pgbin="$(find_pgbin)" || return 1
  # Probe our own socket dir: that identifies *our* instance, not whatever owns the port.
  # Probe as the postgres OS user so peer auth succeeds; as root every probe would
  # log a FATAL auth error in postgres.log.
  local probe=("$pgbin/pg_isready" -q -h "$RUN" -p "$PORT" -U postgres -d postgres -t 2)
  if [[ $EUID -eq 0 ]]; then as_pg "${probe[@]}"; else "${probe[@]}"; fi
}

# The postgres user must be able to traverse every ancestor of the data dir.
ensure_traversable() {
  as_pg test -x "$SERVICES_DIR" && return 0
  # Walk top-down so only the directories that actually block get touched.
  local d="" part parts
  IFS=/ read -ra parts <<<"${SERVICES_DIR#/}"
  for part in "${parts[@]}"; do
    d="$d/$part"
    if ! as_pg test -x "$d"; then
      log "granting $PG_OS_USER search (x) permission on $d"
      # Prefer a targeted ACL; fall back to o+x (search only, no listing).
      setfacl -m "u:$PG_OS_USER:x" "$d" 2>/dev/null || chmod o+x "$d"
    fi
  done
}

start() {
  [[ $EUID -eq 0 ]] || die "run as root (we drop to the '$PG_OS_USER' user ourselves)"
  take_lock postgres
  local pgbin
  pgbin="$(find_pgbin)" || { apt_install postgresql; pgbin="$(find_pgbin)" || die "postgresql installed but no initdb found"; }
  id "$PG_OS_USER" >/dev/null 2>&1 || die "OS user '$PG_OS_USER' missing (should come with the postgresql package)"

  if ! is_up; then
    mkdir -p "$PG_DIR"
    install -d -m 700 -o "$PG_OS_USER" -g "$PG_OS_USER" "$DATA" "$RUN"
    touch "$LOGFILE"; chown "$PG_OS_USER:" "$LOGFILE"
    ensure_traversable

    if [[ ! -s $DATA/PG_VERSION ]]; then
      log "initdb $DATA"
      # peer auth on the socket (admin via runuser), scram over TCP for the app.
      as_pg "$pgbin/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=peer --auth-host=scram-sha-256 >>"$LOGFILE" 2>&1 \
        || { tail -n 20 "$LOGFILE" >&2; die "initdb failed (log: $LOGFILE)"; }
      echo "include = 'musicbud.conf'" >>"$DATA/postgresql.conf"
    fi
    # Rewritten on every start so port changes take effect.
    cat >"$DATA/musicbud.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$RUN'
shared_buffers = 128MB
max_connections = 200
CONF
    chown "$PG_OS_USER:" "$DATA/musicbud.conf"

    log "starting on 127.0.0.1:$PORT"
    # 9>&-: don't let the postmaster inherit our lock fd (it would hold the lock forever).
    as_pg "$pgbin/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 start >/dev/null 9>&- \
      || { tail -n 20 "$LOGFILE" >&2; die "pg_ctl start failed (port $PORT busy? log: $LOGFILE)"; }
    for _ in $(seq 1 60); do is_up && break; sleep 0.5; done
    is_up || die "postgres did not become ready on port $PORT (log: $LOGFILE)"
  fi

  # Converge role + database every time (cheap, and repairs a half-finished first run).
  # CREATEDB lets Django's test runner create test_musicbud.
  as_pg "$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h "$RUN" -p "$PORT" -d postgres <<'SQL' >/dev/null \
    || die "creating role/database failed"
SELECT 'CREATE ROLE musicbud' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'musicbud')\gexec
ALTER ROLE musicbud WITH LOGIN CREATEDB PASSWORD 'musicbud';
SELECT 'CREATE DATABASE musicbud OWNER musicbud' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'musicbud')\gexec
SQL
  log "up: postgres://musicbud:musicbud@127.0.0.1:$PORT/musicbud"
}

stop() {
  take_lock postgres
  local pgbin
  if ! pgbin="$(find_pgbin)" || [[ ! -s $DATA/postmaster.pid ]]; then log "not running"; return 0; fi
  as_pg "$pgbin/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null || die "pg_ctl stop failed (log: $LOGFILE)"
  log "stopped"
}

status() {
  if is_up; then echo "postgres: up (127.0.0.1:$PORT)"; return 0; fi
  echo "postgres: down"; return 3
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
