#!/usr/bin/env bash
# tests/shell/test_gateway_form.sh — examples/lead-form.html in headless
# Chromium, through lastmile-gateway, decided by the fleet (issue 18).
#
# Starts the embedded stack, the four workers and a gateway whose key
# `web-form` (scope leads) lists the origin of a local page server
# (python3 -m http.server on a free port). The page server serves a copy
# of the example form, with its action pointed at the gateway and its
# data-key set, and run.html, which loads the form in a frame and, like a
# person, first submits an address the gateway refuses (x@y: the browser
# accepts it, intake's rules do not), then corrects it and submits again.
# Chromium loads run.html (--dump-dom); the checks:
#   - the CORS preflight and the POST crossed origins (the page is on
#     another port than the gateway);
#   - the 400's error for `email` is shown next to the field;
#   - the corrected submission is accepted (202) with an event id;
#   - the lead is on lastmile.intake with the form's fields, and the
#     fleet decides it: a message for its lead_id appears on
#     lastmile.followup or lastmile.outcomes.
#
# Run by ctest with LM_SOURCE_DIR and LM_BINARY_DIR set, or by hand:
#   LM_BINARY_DIR=build bash tests/shell/test_gateway_form.sh
# Needs chromium (installed from Debian's archive when missing, as
# test_board.sh does). About 20 s.
# The last line is "N passed, N failed"; exit 0 when none failed.
set -uo pipefail

SRC=${LM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${LM_BINARY_DIR:-$SRC/build}
BIN=$(cd "$BIN" 2>/dev/null && pwd || echo "$BIN")
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lm-gwform.XXXXXX")
NAME=test_gateway_form
# shellcheck source=tests/shell/gateway_lib.sh
. "$SRC/tests/shell/gateway_lib.sh"
trap gw_cleanup EXIT
trap 'exit 130' INT TERM
WORKERS=(intake qualification followup timing)
CHROME_LIMIT_S=$((60 * MULT))

need_built "$LM" "$GW" "$BIN"/workers/lastmile-{intake,qualification,followup,timing}
unset "${!LASTMILE_@}"

need_chromium

# ---- the stack, the fleet, the gateway, the page server ----------------------
stack_up 4
for w in "${WORKERS[@]}"; do
  LASTMILE_INSTANCE_ID="$w-gwform-test" "$BIN/workers/lastmile-$w" >"$TMP/$w.log" 2>&1 &
  PIDS+=($!)
done
PAGE_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PAGE_ORIGIN=http://127.0.0.1:$PAGE_PORT
: >"$TMP/keys"
mint_key web-form leads "$PAGE_ORIGIN"
gw_start gateway
ok "fleet, gateway ($GW_URL) and page origin $PAGE_ORIGIN"

mkdir -p "$TMP/www"
sed -e "s|action=\"http://localhost:8080/v1/leads\"|action=\"$GW_URL/v1/leads\"|" \
  -e "s|data-key=\"lmk_REPLACE_WITH_THE_PAGE_KEY\"|data-key=\"$KEY\"|" \
  "$SRC/examples/lead-form.html" >"$TMP/www/lead-form.html"
if grep -q "$GW_URL/v1/leads" "$TMP/www/lead-form.html" && grep -q "$KEY" "$TMP/www/lead-form.html"; then
  ok "the example's action and data-key are where the docs say"
else
  fail "could not set action and data-key in the example" "examples/lead-form.html" \
    "keep action=\"http://localhost:8080/v1/leads\" and data-key=\"lmk_REPLACE_WITH_THE_PAGE_KEY\""
  finish
fi
RUN=chromium-$(date +%s%N)
cat >"$TMP/www/run.html" <<HTML
<!doctype html><meta charset="utf-8"><title>run</title>
<iframe id="f" src="lead-form.html" width="600" height="900"></iframe>
<pre id="out">pending</pre>
<script>
var f = document.getElementById("f"), out = document.getElementById("out");
var log = [];
function waitFor(d, want, then) {
  var r = d.getElementById("result"), n = 0;
  var t = setInterval(function () {
    if (r.dataset.state === want || ++n > 200) { clearInterval(t); then(r); }
  }, 50);
}
f.onload = function () {
  var d = f.contentDocument, form = d.getElementById("lead-form");
  form.elements.full_name.value = "Chromium Form";
  form.elements.email.value = "x@y";
  form.elements.company.value = "Headless Ltd";
  form.elements.company_size.value = "250";
  form.elements.country.value = "DE";
  form.requestSubmit();
  waitFor(d, "invalid", function (r) {
    log.push({state: r.dataset.state,
              email_error: d.querySelector('.error[data-for="email"]').textContent});
    form.elements.email.value = "$RUN@example.com";
    form.requestSubmit();
    waitFor(d, "accepted", function (r2) {
      log.push({state: r2.dataset.state, event_id: r2.dataset.eventId || "",
                text: r2.textContent});
      out.textContent = JSON.stringify(log);
    });
  });
};
</script>
HTML
(cd "$TMP/www" && exec "$PY" -m http.server "$PAGE_PORT" --bind 127.0.0.1 \
  >"$TMP/pages.log" 2>&1) &
PIDS+=($!)
for ((i = 0; i < WAIT_S * 10; i++)); do
  "$PY" -c "import urllib.request as u; u.urlopen('$PAGE_ORIGIN/run.html', timeout=2)" \
    2>/dev/null && break
  sleep 0.1
done

# ---- Chromium submits the form -----------------------------------------------
profile=$(mktemp -d "$TMP/chrome.XXXXXX")
timeout "$CHROME_LIMIT_S" "$CHROME" --headless --no-sandbox --disable-gpu \
  --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --disable-dev-shm-usage \
  --user-data-dir="$profile" --virtual-time-budget=15000 --dump-dom \
  "$PAGE_ORIGIN/run.html" >"$TMP/dom.html" 2>>"$TMP/chromium.log"
"$PY" - "$TMP/dom.html" "$RUN" "$LM" "$WAIT_S" >"$TMP/check.out" 2>&1 <<'PY'
import html, json, re, subprocess, sys, time
dom, run, lm, wait_s = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def ok(w): print("ok   " + w, flush=True)
def fail(w, where, fix):
    print("FAIL %s\n       where: %s\n       fix:   %s" % (w, where, fix), flush=True)

m = re.search(r'<pre id="out">(.*?)</pre>', open(dom).read(), re.S)
try:
    steps = json.loads(html.unescape(m.group(1))) if m else []
except ValueError:
    steps = []
if len(steps) != 2:
    fail("the page did not finish: %s" % (m.group(1)[:300] if m else "no output"),
         "examples/lead-form.html", "see chromium.log and gateway.log")
    sys.exit(0)
first, second = steps
if first["state"] == "invalid" and "not an address" in first["email_error"]:
    ok("x@y: the gateway's 400 names email; the page shows it next to the field: %s"
       % first["email_error"])
else:
    fail("first submission: %s" % first, "examples/lead-form.html",
         "show problem.errors next to their fields")
eid = second.get("event_id", "")
if second["state"] == "accepted" and eid.startswith("form-"):
    ok("the corrected form is accepted (202), event id %s" % eid)
else:
    fail("second submission: %s" % second, "examples/lead-form.html", "see gateway.log")
    sys.exit(0)

def tail(topic):
    r = subprocess.run([lm, "tail", topic, "--from-beginning", "--timeout-ms", "1000"],
                       capture_output=True, text=True, timeout=60)
    return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]

sub = [x for x in tail("intake") if x["value"]["event_id"] == eid]
v = sub[0]["value"] if sub else {}
if (v.get("email") == run + "@example.com" and v.get("company_size") == 250 and
        v.get("full_name") == "Chromium Form" and v.get("source") == "web_form" and
        v.get("attributes", {}).get("landing_page") == "/lead-form.html"):
    ok("the lead is on lastmile.intake with the form's fields")
else:
    fail("on lastmile.intake: %s" % sub, "gateway/gw_body.c", "the form's fields, as posted")
lead_id, decided = None, None
end = time.time() + wait_s
while time.time() < end and not decided:
    if not lead_id:
        acc = [x for x in tail("qualification") if x["value"].get("event_id") == eid]
        lead_id = acc[0]["value"]["lead_id"] if acc else None
    if lead_id:
        for topic in ("followup", "outcomes"):
            hit = [x for x in tail(topic) if lead_id in json.dumps(x)]
            if hit:
                decided = (topic, hit[0])
                break
    if not decided:
        time.sleep(0.5)
if decided:
    ok("the fleet decided lead %s (on lastmile.%s)" % (lead_id, decided[0]))
else:
    fail("lead %s (event %s) not decided within %d s" % (lead_id, eid, wait_s),
         "the workers' logs", "see intake.log and qualification.log")
PY
cat "$TMP/check.out"
passed=$((passed + $(grep -c '^ok ' "$TMP/check.out")))
failed=$((failed + $(grep -c '^FAIL ' "$TMP/check.out")))
grep -q '^ok   the fleet decided' "$TMP/check.out" || grep -q '^FAIL ' "$TMP/check.out" ||
  fail "the check did not finish: $(tail -n3 "$TMP/check.out")" "$TMP/dom.html" \
    "see chromium.log"
finish
