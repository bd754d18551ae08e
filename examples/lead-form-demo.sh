#!/usr/bin/env bash
# examples/lead-form-demo.sh — try the front doors end to end on this
# machine: the embedded stack, the four workers, lastmile-gateway, a page
# server for examples/lead-form.html, lastmile-webhook and the sample
# receiver (examples/receiver.py). A lead submitted in the browser is
# decided by the fleet, and its first action arrives at the receiver,
# signed (the receiver checks the signature), at its scheduled time: the
# shipped cadences send the first email at once, day or night. Ctrl-C
# stops everything.
#
#   make form-demo          (or: make build && bash examples/lead-form-demo.sh)
#   # open the URL it prints, submit the form, watch the receiver's lines
#
# Settings: LM_BINARY_DIR (default ./build), GATEWAY_PORT (8080),
# PAGE_PORT (8000), RECEIVER_PORT (8090). The stack lives in a temporary
# LASTMILE_DEV_DIR and is taken down on exit; the key minted for the page
# and the webhook's secret are made for the run.
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(cd "${LM_BINARY_DIR:-$SRC/build}" && pwd)
LM=$BIN/cli/lastmile
GATEWAY_PORT=${GATEWAY_PORT:-8080}
PAGE_PORT=${PAGE_PORT:-8000}
RECEIVER_PORT=${RECEIVER_PORT:-8090}
for f in "$LM" "$BIN/gateway/lastmile-gateway" "$BIN"/workers/lastmile-{intake,qualification,followup,timing,webhook}; do
  [ -x "$f" ] || { echo "lead-form-demo: $f is not built: run make build" >&2; exit 1; }
done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lm-form-demo.XXXXXX")
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  LASTMILE_DEV_DIR="$TMP/stack" "$LM" dev down >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export LASTMILE_DEV_DIR="$TMP/stack"
eval "$("$LM" dev up)"
for w in intake qualification followup timing; do
  "$BIN/workers/lastmile-$w" >"$TMP/$w.log" 2>&1 &
  PIDS+=($!)
done
origins="http://localhost:$PAGE_PORT,http://127.0.0.1:$PAGE_PORT"
"$LM" gateway-key web-form leads "$origins" >"$TMP/key.txt"
sed -n 's/^line: //p' "$TMP/key.txt" >"$TMP/gateway-keys"
KEY=$(sed -n 's/^key: *//p' "$TMP/key.txt")
LASTMILE_GATEWAY_KEYS_FILE="$TMP/gateway-keys" LASTMILE_GATEWAY_ADDR="127.0.0.1:$GATEWAY_PORT" \
  "$BIN/gateway/lastmile-gateway" >"$TMP/gateway.log" 2>&1 &
PIDS+=($!)
mkdir -p "$TMP/www"
sed -e "s|http://localhost:8080/v1/leads|http://127.0.0.1:$GATEWAY_PORT/v1/leads|" \
  -e "s|lmk_REPLACE_WITH_THE_PAGE_KEY|$KEY|" "$SRC/examples/lead-form.html" >"$TMP/www/index.html"
(cd "$TMP/www" && exec /usr/bin/python3 -m http.server "$PAGE_PORT" --bind 127.0.0.1 \
  >"$TMP/pages.log" 2>&1) &
PIDS+=($!)
# the way out: lastmile-webhook POSTs each action, signed, at its time, to
# the sample receiver, which verifies the signature and prints it
python3 -c 'import secrets; print(secrets.token_hex(32))' >"$TMP/webhook.secret"
python3 -u "$SRC/examples/receiver.py" --host 127.0.0.1 --port "$RECEIVER_PORT" \
  --secret-file "$TMP/webhook.secret" &
PIDS+=($!)
LASTMILE_WEBHOOK_URL="http://127.0.0.1:$RECEIVER_PORT/hooks" \
  LASTMILE_WEBHOOK_SECRET_FILE="$TMP/webhook.secret" \
  "$BIN/workers/lastmile-webhook" >"$TMP/webhook.log" 2>&1 &
PIDS+=($!)
sleep 1
for p in "${PIDS[@]}"; do
  kill -0 "$p" 2>/dev/null || { echo "lead-form-demo: a process did not start; logs:" >&2
    tail -n 3 "$TMP"/*.log >&2; exit 1; }
done
cat <<MSG
lead-form-demo: the form is at http://localhost:$PAGE_PORT/
  gateway  http://127.0.0.1:$GATEWAY_PORT (key for the page: $KEY)
  receiver http://127.0.0.1:$RECEIVER_PORT/hooks (examples/receiver.py)
  logs     $TMP/*.log
Submit the form; the receiver prints each action it gets, signature
checked, when it is due. Ctrl-C stops.
MSG
wait
