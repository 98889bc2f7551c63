#!/usr/bin/env bash
# Serve musicbud.asgi:application: the one command the demo, the container, the tests and the docs use.
#   scripts/serve.sh [HOST] [PORT] [WORKERS]      defaults: 127.0.0.1 8000 2 (or $SERVE_HOST, $SERVE_PORT, $SERVE_WORKERS)
# Logs go to stderr: the app's lines (LOG_LEVEL) and granian's (SERVE_LOG_LEVEL, default warning).
# SERVE_ACCESS_LOG=true adds one access line per request (granian's access log; off by default: at a
# cached page's rate it is most of the output).
# granian (Rust HTTP, asyncio/uvloop workers): on a cached recommendation page it served 1.7-2.5x what
# uvicorn served on the same machine (bench/http.py --server granian | uvicorn; docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
host="${1:-${SERVE_HOST:-127.0.0.1}}"
port="${2:-${SERVE_PORT:-8000}}"
workers="${3:-${SERVE_WORKERS:-2}}"
bin="${VENV_BIN:-.venv/bin}"
case "${SERVE_ACCESS_LOG:-false}" in
  true | 1) access=(--access-log) ;;
  false | 0) access=(--no-access-log) ;;
  *) echo "SERVE_ACCESS_LOG must be true or false, not '${SERVE_ACCESS_LOG}'" >&2; exit 2 ;;
esac
exec "$bin/granian" --interface asgi --loop uvloop --no-ws --host "$host" --port "$port" --workers "$workers" \
  --log-level "${SERVE_LOG_LEVEL:-warning}" "${access[@]}" musicbud.asgi:application
