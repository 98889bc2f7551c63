#!/usr/bin/env bash
# Run the background worker (manage.py run_worker): trainings, the users' outbox drains and the periodic jobs
# (settings.WORKER_PERIODIC). One command for the demo, the container and the docs; run one or more beside the
# server(s), on the same settings (the queue is in the database). SIGTERM/Ctrl-C stops it; a training it was
# running is marked failed and can be started again.
#   scripts/worker.sh [--worker-id ID]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${VENV_BIN:-.venv/bin}"
exec "$bin/python" manage.py run_worker "$@"
