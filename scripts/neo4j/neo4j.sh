#!/usr/bin/env bash
# Run a real Neo4j 5.26 Community server for local development and tests, without
# Docker and without the Neo4j download site: the embedded Community DBMS comes from
# Maven Central (pom.xml next to this script) and Neo4jServer.java starts it with Bolt on.
#
# Usage: scripts/neo4j/neo4j.sh start|stop|status|classpath
#
#   start      resolve + cache the classpath, compile the launcher, start the server in
#              the background and wait until Bolt answers. Idempotent.
#   stop       SIGTERM, wait up to NEO4J_STOP_TIMEOUT s, then SIGKILL. Idempotent.
#   status     exit 0 if the server is running and its Bolt port answers, else 3.
#   classpath  print the Neo4j runtime classpath (resolving it first if needed).
#
# Environment (defaults in brackets):
#   NEO4J_PORT           Bolt port on 127.0.0.1 [7687]
#   NEO4J_DATA_DIR       databases, transaction logs, Neo4j's own logs [<repo>/.services/neo4j/data]
#   NEO4J_LOG            stdout/stderr of the JVM [<repo>/.services/neo4j/neo4j.log]
#   NEO4J_PASSWORD       password of user "neo4j" [musicbud-dev-password];
#                        set it to the empty string to disable auth
#   NEO4J_HEAP           JVM -Xms/-Xmx [1g]
#   NEO4J_PAGECACHE      Neo4j page cache size [1g]
#                        (as docker-compose.yml. bench/extract.py seeds 1M interactions in
#                        ~38 s with 1g heap, ~54 s with 512m: bulk writes are GC-bound; and a
#                        dev store that tests keep filling and wiping outgrows a 512m page cache)
#   NEO4J_START_TIMEOUT  seconds to wait for Bolt on start [180]
#   NEO4J_STOP_TIMEOUT   seconds to wait for a clean exit before SIGKILL [60]
#   NEO4J_JAVA_OPTS      extra JVM options, whitespace separated [empty]
#
# Exit codes: 0 ok; 1 failure (log tail printed); 2 usage error; 3 not running (status).
#
# Everything the server writes stays under <repo>/.services/ (gitignored); Maven uses
# the default ~/.m2 so the ~120 MB of jars are shared by all checkouts.

set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
STATE_DIR="$REPO_ROOT/.services/neo4j"

NEO4J_HOST=127.0.0.1 # dev server: never listen on other interfaces
NEO4J_PORT="${NEO4J_PORT:-7687}"
NEO4J_DATA_DIR="${NEO4J_DATA_DIR:-$STATE_DIR/data}"
NEO4J_LOG="${NEO4J_LOG:-$STATE_DIR/neo4j.log}"
# "-" rather than ":-": an explicitly empty NEO4J_PASSWORD means "auth disabled".
NEO4J_PASSWORD="${NEO4J_PASSWORD-musicbud-dev-password}"
NEO4J_HEAP="${NEO4J_HEAP:-1g}"
NEO4J_PAGECACHE="${NEO4J_PAGECACHE:-1g}"
NEO4J_START_TIMEOUT="${NEO4J_START_TIMEOUT:-180}"
NEO4J_STOP_TIMEOUT="${NEO4J_STOP_TIMEOUT:-60}"
NEO4J_JAVA_OPTS="${NEO4J_JAVA_OPTS:-}"

POM="$SCRIPT_DIR/pom.xml"
LAUNCHER_SRC="$SCRIPT_DIR/Neo4jServer.java"
CP_FILE="$STATE_DIR/cp.txt"
CP_KEY_FILE="$STATE_DIR/cp.key"
CLASSES_DIR="$STATE_DIR/classes"
# pid/ready files are per port so a test instance on another port can run alongside.
PID_FILE="$STATE_DIR/neo4j-$NEO4J_PORT.pid"
READY_FILE="$STATE_DIR/neo4j-$NEO4J_PORT.ready"
BOLT_URI="bolt://$NEO4J_HOST:$NEO4J_PORT"

log() { printf 'neo4j.sh: %s\n' "$*" >&2; }
die() {
    log "$*"
    exit 1
}

if ! [[ $NEO4J_PORT =~ ^[0-9]+$ ]]; then die "NEO4J_PORT must be a number, got '$NEO4J_PORT'"; fi

checksum() {
    # sha256sum on Linux, shasum on macOS.
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$@" | awk '{print $1}'
    else
        shasum -a 256 "$@" | awk '{print $1}'
    fi
}

# Serialise start/stop/resolve across concurrent callers (several people and test runs
# share one checkout). flock is Linux-only; elsewhere we simply run unlocked.
with_lock() {
    local lock_file="$1"
    shift
    mkdir -p "$STATE_DIR"
    if command -v flock >/dev/null 2>&1; then
        (
            flock -w 600 9 || die "timed out waiting for lock $lock_file"
            "$@"
        ) 9>"$lock_file"
    else
        "$@"
    fi
}

port_open() {
    # bash's /dev/tcp: no nc/curl needed. The subshell closes the socket again.
    (exec 3<>"/dev/tcp/$NEO4J_HOST/$NEO4J_PORT") 2>/dev/null
}

# True if $1 is a live process running our launcher (guards against pid reuse).
is_our_pid() {
    local pid="$1" cmd=""
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    if [[ -r /proc/$pid/cmdline ]]; then
        cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline")"
    else
        cmd="$(ps -p "$pid" -o args= 2>/dev/null || true)"
    fi
    [[ $cmd == *Neo4jServer* ]]
}

# Prints the pid of our running server on NEO4J_PORT, or fails.
running_pid() {
    local pid
    [[ -f $PID_FILE ]] || return 1
    pid="$(head -n 1 "$PID_FILE" 2>/dev/null || true)"
    is_our_pid "$pid" || return 1
    printf '%s\n' "$pid"
}

classpath_complete() {
    # A cached classpath is useless if ~/.m2 was cleaned since; check every jar exists.
    local entry entries
    [[ -s $CP_FILE ]] || return 1
    IFS=: read -r -a entries <"$CP_FILE"
    for entry in "${entries[@]}"; do
        [[ -e $entry ]] || return 1
    done
}

# Resolve the runtime classpath once and cache it, keyed on the pom's checksum so that a
# version bump in pom.xml re-resolves. includeScope=runtime matters: Neo4j's storage
# engine is a runtime-scope dependency and the DBMS does not start without it.
resolve_classpath_locked() {
    local key tmp
    key="$(checksum "$POM")"
    if [[ -f $CP_KEY_FILE && "$(cat "$CP_KEY_FILE")" == "$key" ]] && classpath_complete; then
        return 0
    fi
    command -v mvn >/dev/null 2>&1 || die "mvn not found (apt-get install maven)"
    log "resolving the Neo4j classpath with Maven (first run downloads ~120 MB into ~/.m2)..."
    tmp="$CP_FILE.tmp.$$"
    if ! mvn -B -q -f "$POM" dependency:build-classpath \
        -Dmdep.includeScope=runtime -Dmdep.outputFile="$tmp" >"$STATE_DIR/mvn.log" 2>&1; then
        rm -f "$tmp"
        tail -n 40 "$STATE_DIR/mvn.log" >&2 || true
        die "Maven failed to resolve $POM (full output: $STATE_DIR/mvn.log)"
    fi
    mv -f "$tmp" "$CP_FILE"
    printf '%s\n' "$key" >"$CP_KEY_FILE"
}

# Compile the launcher once instead of source-launching it on every start (source launch
# recompiles in-process each time, ~2-3 s). Keyed on the source and the classpath.
compile_launcher_locked() {
    local key tmp
    key="$(checksum "$LAUNCHER_SRC" "$CP_FILE" | tr -d '\n')"
    if [[ -f $CLASSES_DIR/.key && "$(cat "$CLASSES_DIR/.key")" == "$key" && -f $CLASSES_DIR/Neo4jServer.class ]]; then
        return 0
    fi
    command -v javac >/dev/null 2>&1 || die "javac not found (needs a JDK 17 or 21)"
    tmp="$CLASSES_DIR.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    # -Xlint:-path: some Neo4j jars list missing Class-Path entries in their manifests; harmless.
    if ! javac --release 17 -encoding UTF-8 -Xlint:-path -nowarn -cp "$(cat "$CP_FILE")" \
        -d "$tmp" "$LAUNCHER_SRC" >"$STATE_DIR/javac.log" 2>&1; then
        rm -rf "$tmp"
        cat "$STATE_DIR/javac.log" >&2
        die "failed to compile $LAUNCHER_SRC"
    fi
    printf '%s\n' "$key" >"$tmp/.key"
    rm -rf "$CLASSES_DIR"
    mv "$tmp" "$CLASSES_DIR"
}

prepare_locked() {
    resolve_classpath_locked
    compile_launcher_locked
}

prepare() {
    with_lock "$STATE_DIR/prepare.lock" prepare_locked
}

fail_with_log() {
    log "$1"
    if [[ -f $NEO4J_LOG ]]; then
        log "last lines of $NEO4J_LOG:"
        tail -n 40 "$NEO4J_LOG" >&2 || true
    fi
    log "Neo4j's own logs: $NEO4J_DATA_DIR/logs/debug.log"
    exit 1
}

# Waits for the launcher's ready file and the Bolt port. Args: pid.
wait_ready() {
    local pid="$1" deadline ready_pid
    deadline=$((SECONDS + NEO4J_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PID_FILE"
            fail_with_log "Neo4j exited during startup"
        fi
        if [[ -s $READY_FILE ]] && port_open; then
            # The launcher writes its own pid into the ready file; trust it over $! in
            # case setsid had to fork.
            ready_pid="$(sed -n 2p "$READY_FILE")"
            if is_our_pid "$ready_pid"; then
                printf '%s\n' "$ready_pid" >"$PID_FILE"
            fi
            return 0
        fi
        sleep 0.25
    done
    log "Neo4j did not become ready within ${NEO4J_START_TIMEOUT}s; stopping it"
    stop_pid "$pid"
    fail_with_log "start timed out (raise NEO4J_START_TIMEOUT if this machine is just slow)"
}

# Neo4j locks its store, so a second instance (other NEO4J_PORT) on the same data dir would
# die with "Lock file has been locked by another process". Say so plainly instead.
check_data_dir_free() {
    local f pid cmd
    for f in "$STATE_DIR"/neo4j-*.pid; do
        [[ -f $f && $f != "$PID_FILE" ]] || continue
        pid="$(head -n 1 "$f" 2>/dev/null || true)"
        is_our_pid "$pid" || continue
        cmd="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null || true)"
        if grep -qxF -- "$NEO4J_DATA_DIR" <<<"$cmd"; then
            die "$NEO4J_DATA_DIR is in use by the Neo4j on another port (pid $pid, $(basename "$f" .pid)); set NEO4J_DATA_DIR for a second instance"
        fi
    done
}

start_locked() {
    local pid java_opts
    if pid="$(running_pid)"; then
        if [[ -s $READY_FILE ]] && port_open; then
            log "already running (pid $pid) on $BOLT_URI"
            return 0
        fi
        log "already starting (pid $pid); waiting for $BOLT_URI"
        wait_ready "$pid"
        log "ready on $BOLT_URI (pid $pid)"
        return 0
    fi
    rm -f "$PID_FILE" "$READY_FILE"
    if port_open; then
        die "port $NEO4J_PORT is already in use by another process (not started by this script); set NEO4J_PORT"
    fi
    check_data_dir_free

    prepare
    command -v java >/dev/null 2>&1 || die "java not found (needs Java 17 or 21)"
    mkdir -p "$NEO4J_DATA_DIR" "$(dirname "$NEO4J_LOG")" "$STATE_DIR/tmp"

    java_opts=(
        "-Xms$NEO4J_HEAP" "-Xmx$NEO4J_HEAP"
        -XX:+UseG1GC
        -XX:+ExitOnOutOfMemoryError
        # Neo4j/Netty use JDK internals; without these Java 17 fails with
        # "LinkageError: Cannot to link java.nio.DirectByteBuffer".
        --add-opens=java.base/java.nio=ALL-UNNAMED
        --add-opens=java.base/java.io=ALL-UNNAMED
        --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
        -Dio.netty.tryReflectionSetAccessible=true
        # Netty, JNA and zstd unpack native libraries into the temp dir: keep them under .services.
        "-Djava.io.tmpdir=$STATE_DIR/tmp"
        "-XX:ErrorFile=$STATE_DIR/hs_err_pid%p.log"
        -Dfile.encoding=UTF-8
        -Djava.awt.headless=true
    )
    if [[ -n $NEO4J_JAVA_OPTS ]]; then
        local extra
        read -r -a extra <<<"$NEO4J_JAVA_OPTS"
        java_opts+=("${extra[@]}")
    fi

    local -a detach=(nohup)
    # setsid: own session, so Ctrl-C in the calling terminal or its exit does not kill Neo4j.
    if command -v setsid >/dev/null 2>&1; then detach=(nohup setsid); fi

    printf '=== %s neo4j.sh start: %s data=%s heap=%s pagecache=%s\n' \
        "$(date '+%Y-%m-%d %H:%M:%S')" "$BOLT_URI" "$NEO4J_DATA_DIR" "$NEO4J_HEAP" "$NEO4J_PAGECACHE" >>"$NEO4J_LOG"
    log "starting Neo4j on $BOLT_URI (data: $NEO4J_DATA_DIR, log: $NEO4J_LOG)"
    # The password goes through the environment, not argv, so it is not visible in ps.
    # cwd = STATE_DIR so stray relative paths land under .services. 9>&- : do not let the
    # server inherit the flock fd, or the lock would be held for the server's lifetime.
    (
        cd "$STATE_DIR"
        NEO4J_PASSWORD="$NEO4J_PASSWORD" exec "${detach[@]}" java "${java_opts[@]}" \
            -cp "$CLASSES_DIR:$(cat "$CP_FILE")" Neo4jServer \
            --data-dir "$NEO4J_DATA_DIR" --host "$NEO4J_HOST" --port "$NEO4J_PORT" \
            --pagecache "$NEO4J_PAGECACHE" --ready-file "$READY_FILE" \
            </dev/null >>"$NEO4J_LOG" 2>&1 9>&-
    ) &
    pid=$!
    printf '%s\n' "$pid" >"$PID_FILE"
    wait_ready "$pid"
    log "ready on $BOLT_URI (pid $(cat "$PID_FILE"), auth $([[ -n $NEO4J_PASSWORD ]] && echo "user neo4j" || echo off))"
}

# SIGTERM (runs the launcher's shutdown hook -> clean DBMS shutdown), wait, then SIGKILL.
stop_pid() {
    local pid="$1" deadline
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + NEO4J_STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid still running after ${NEO4J_STOP_TIMEOUT}s; sending SIGKILL (next start will run recovery)"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    rm -f "$PID_FILE" "$READY_FILE"
}

stop_locked() {
    local pid
    if ! pid="$(running_pid)"; then
        rm -f "$PID_FILE" "$READY_FILE"
        log "not running on port $NEO4J_PORT"
        return 0
    fi
    log "stopping Neo4j (pid $pid)"
    stop_pid "$pid"
    log "stopped"
}

status() {
    local pid
    if pid="$(running_pid)"; then
        if port_open; then
            echo "running (pid $pid) on $BOLT_URI"
            return 0
        fi
        echo "starting (pid $pid), $BOLT_URI not answering yet"
        return 3
    fi
    echo "not running on port $NEO4J_PORT"
    return 3
}

usage() {
    sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

main() {
    [[ $# -eq 1 ]] || usage
    case "$1" in
    start) with_lock "$STATE_DIR/neo4j-$NEO4J_PORT.lock" start_locked ;;
    stop) with_lock "$STATE_DIR/neo4j-$NEO4J_PORT.lock" stop_locked ;;
    status) status ;;
    classpath)
        prepare
        cat "$CP_FILE"
        ;;
    -h | --help | help) usage ;;
    *) usage ;;
    esac
}

main "$@"
