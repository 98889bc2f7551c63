# Shared helpers for scripts/{postgres,redis,services}.sh. Source it, don't run it.
# shellcheck shell=bash

# Repo root is derived from this file's location so the scripts work from any cwd.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES_DIR="$REPO_ROOT/.services"

PGPORT_MUSICBUD="${PGPORT_MUSICBUD:-54329}"
REDIS_PORT_MUSICBUD="${REDIS_PORT_MUSICBUD:-63799}"

# Diagnostics go to stderr so stdout stays clean for `eval "$(scripts/services.sh env)"`.
log() { printf '[%s] %s\n' "${LOG_TAG:-services}" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "${LOG_TAG:-services}" "$*" >&2; exit 1; }

# Serialise start/stop of one service so two concurrent `up`s don't race on initdb etc.
# The lock fd stays open until the calling script exits.
take_lock() {
  mkdir -p "$SERVICES_DIR"
  exec 9>"$SERVICES_DIR/.$1.lock"
  flock -w 300 9 || die "timed out waiting for lock $SERVICES_DIR/.$1.lock"
}

# Install Debian packages idempotently. Only called when a needed binary is missing,
# so the warm path never touches apt.
apt_install() {
  [[ $EUID -eq 0 ]] || die "need root to apt-get install $*"
  command -v apt-get >/dev/null || die "apt-get not found; install $* manually"
  log "installing Debian packages: $*"
  # Stop the packages' postinst from starting the *system* postgres/redis services:
  # we run our own instances. Only add a policy-rc.d if none exists, and remove only ours.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# temporary, created by musicbud scripts/lib.sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"; own_policy=1
    trap "rm -f '$policy'" EXIT
  fi
  # Lock timeout: another apt/dpkg may be running (e.g. a concurrent install).
  local apt=(apt-get -y -q -o DPkg::Lock::Timeout=600)
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" update >&2 \
    || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends "$@" >&2 \
    || die "apt-get install $* failed"
  if (( own_policy )); then rm -f "$policy"; trap - EXIT; fi
}
