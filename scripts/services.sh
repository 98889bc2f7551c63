#!/usr/bin/env bash
# Single entry point for local backing services (PostgreSQL, Redis, Neo4j).
#   scripts/services.sh up|down|status [postgres] [redis] [neo4j]   (default: all)
#   scripts/services.sh env        -> export lines; use: eval "$(scripts/services.sh env)"
# Ports: PGPORT_MUSICBUD (54329), REDIS_PORT_MUSICBUD (63799), NEO4J_PORT (17687).
# Exit: non-zero if any requested service failed to start / is down.
set -euo pipefail
LOG_TAG=services
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SCRIPTS="$REPO_ROOT/scripts"

# Exported so scripts/neo4j/neo4j.sh sees the same values we advertise.
export PGPORT_MUSICBUD REDIS_PORT_MUSICBUD
export NEO4J_PORT="${NEO4J_PORT:-17687}"
export NEO4J_PASSWORD="${NEO4J_PASSWORD:-musicbud-dev-password}"
ENV_FILE="$SERVICES_DIR/services.env"

script_for() {
  case "$1" in
    postgres) echo "$SCRIPTS/postgres.sh" ;;
    redis) echo "$SCRIPTS/redis.sh" ;;
    neo4j) echo "$SCRIPTS/neo4j/neo4j.sh" ;;
    *) die "unknown service '$1' (expected postgres, redis, neo4j)" ;;
  esac
}

# Run <service> <action>; complain clearly if its script isn't there yet.
run() {
  local s; s="$(script_for "$1")"
  if [[ ! -f $s ]]; then log "ERROR: $1: $s does not exist (not written yet?)"; return 1; fi
  bash "$s" "$2"
}

env_lines() {
  cat <<ENV
export DATABASE_URL=postgres://musicbud:musicbud@127.0.0.1:$PGPORT_MUSICBUD/musicbud
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT_MUSICBUD/0
export NEO4J_URI=bolt://127.0.0.1:$NEO4J_PORT
export NEO4J_USER=neo4j
export NEO4J_PASSWORD=$NEO4J_PASSWORD
ENV
}

cmd="${1:-}"; shift || true
names=("$@"); (( ${#names[@]} )) || names=(postgres redis neo4j)
for n in "${names[@]}"; do script_for "$n" >/dev/null; done   # validate early

rc=0
case "$cmd" in
  up)
    for n in "${names[@]}"; do run "$n" start || { log "ERROR: $n failed to start"; rc=1; }; done
    mkdir -p "$SERVICES_DIR"
    env_lines >"$ENV_FILE"
    log "wrote $ENV_FILE"
    env_lines
    ;;
  down)
    for n in "${names[@]}"; do run "$n" stop || { log "ERROR: $n failed to stop"; rc=1; }; done
    ;;
  status)
    for n in "${names[@]}"; do
      if run "$n" status >/dev/null 2>&1; then echo "$n: up"
      elif [[ ! -f $(script_for "$n") ]]; then echo "$n: down (no $(script_for "$n"))"; rc=1
      else echo "$n: down"; rc=1; fi
    done
    ;;
  env) env_lines ;;
  *) echo "usage: $0 up|down|status [postgres|redis|neo4j ...] | env" >&2; exit 2 ;;
esac
exit "$rc"
