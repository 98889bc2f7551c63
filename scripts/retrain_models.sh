#!/usr/bin/env bash
# Cron entry point: queue a training of every content type for the worker (`manage.py run_worker`, which
# skips unchanged data), append to a rotating log, exit non-zero when a type could not be queued (its
# training still running, the database down; cron then mails its output too, if MAILTO is set). How each
# run ends is on its training log (the admin, GET /v1/recommendations/train/models/<id>/) and in the
# worker's log; with RETRAIN_EMAIL=1 the worker mails settings.ADMINS when one fails.
#
#   MUSICBUD_ENV_FILE  file of KEY=value lines (the deployment's settings); the settings read it themselves
#                      (python-dotenv; the real environment wins), so it must exist when named
#   RETRAIN_LOG        log file (default <repo>/.data/logs/retrain.log), rotated at RETRAIN_LOG_MAX_BYTES
#                      (default 10 MiB), keeping RETRAIN_LOG_KEEP old files (default 5)
#   RETRAIN_EMAIL=1    the worker mails settings.ADMINS when a run fails (Django's email settings)
#   PYTHON             interpreter (default <repo>/.venv/bin/python)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
# Not sourced here: the same file format (dotenv: JSON values, quotes) as every other manage.py run.
if [[ -n ${MUSICBUD_ENV_FILE:-} && ! -f $MUSICBUD_ENV_FILE ]]; then
  echo "MUSICBUD_ENV_FILE=$MUSICBUD_ENV_FILE is not a file" >&2
  exit 2
fi
LOG="${RETRAIN_LOG:-$REPO/.data/logs/retrain.log}"
MAX_BYTES="${RETRAIN_LOG_MAX_BYTES:-10485760}"
KEEP="${RETRAIN_LOG_KEEP:-5}"
PY="${PYTHON:-$REPO/.venv/bin/python}"
mkdir -p "$(dirname "$LOG")"

# Rotate before writing: retrain.log -> retrain.log.1 -> ... -> retrain.log.$KEEP (dropped).
if [[ -f $LOG ]] && (( $(stat -c %s "$LOG") >= MAX_BYTES )); then
  for (( i = KEEP - 1; i >= 1; i-- )); do
    [[ -f $LOG.$i ]] && mv -f "$LOG.$i" "$LOG.$((i + 1))"
  done
  mv -f "$LOG" "$LOG.1"
fi

args=(manage.py train_recommendations --type all --triggered-by cron --async)
[[ ${RETRAIN_EMAIL:-0} == 1 ]] && args+=(--email-on-failure)

rc=0
{
  echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) retrain start"
  "$PY" "${args[@]}" || rc=$?
  echo "=== $(date -u +%Y-%m-%dT%H:%M:%SZ) retrain end (exit $rc)"
} >>"$LOG" 2>&1
if (( rc != 0 )); then
  echo "retraining not queued (exit $rc); see $LOG" >&2
fi
exit "$rc"
