#!/usr/bin/env bash
# make_corpus.sh — writes the committed seed corpus of every fuzz target,
# tests/fuzz/corpus/<target>/, from readable sources: protobuf text format
# (encoded with protoc, the one tool that knows the schema besides
# protoc-c), the built-in config and model, and hand-written edge cases.
# Deterministic: running it again rewrites the same files. A handful of
# seeds per target is the point: the fuzzer grows its own corpus from them
# (in a copy; see run_fuzz.cmake), and docs/FUZZING.md says how to merge
# the interesting finds back.
#
#   tests/fuzz/make_corpus.sh          # from anywhere in the repository
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/corpus"
proto="$root/proto/lastmile/v1/lastmile.proto"
command -v protoc >/dev/null || {
  echo "make_corpus: needs protoc (Debian: protobuf-compiler)" >&2
  exit 1
}

# seed TARGET NAME TYPE < text-format message
seed() {
  mkdir -p "$out/$1"
  protoc --encode="lastmile.v1.$3" -I"$root/proto" "$proto" >"$out/$1/$2"
}
# raw TARGET NAME < bytes
raw() {
  mkdir -p "$out/$1"
  cat >"$out/$1/$2"
}
rm -rf "$out"

# ---- intake: LeadSubmitted -------------------------------------------------
seed intake valid LeadSubmitted <<'P'
event_id: "ev-1" source: "web_form" email: "Ada.Lovelace@Example.com "
full_name: "Ada Lovelace" company: "Analytical Engines" title: "VP Sales"
company_size: 120 country: "gb" timezone: "Europe/London"
phone: "020 7946 0018" submitted_at_ms: 1767600000000
attributes { key: "pages_viewed" value: "7" }
attributes { key: "demo_requested" value: "1" }
P
seed intake no_email LeadSubmitted <<'P'
event_id: "ev-2" source: "crm" country: "DE" submitted_at_ms: 1767600000000
P
seed intake bad_times LeadSubmitted <<'P'
event_id: "ev-3" source: "ads" email: "a@b.io" country: "US"
submitted_at_ms: -9223372036854775808 company_size: -5
P
seed intake phone_tz LeadSubmitted <<'P'
event_id: "ev-4" source: "web_form" email: "x.y+tag@sub.example.co.jp"
country: "JP" timezone: "Asia/Tokyo" phone: "+81 3-1234-5678"
submitted_at_ms: 1767600000000 title: "Co-Founder & CEO"
P
seed intake control_chars LeadSubmitted <<'P'
event_id: "ev\n5" source: " Referral " email: "a@b.c" country: "XX"
full_name: "\x01\x7f" timezone: "Not/AZone" submitted_at_ms: 1
P
# a FollowUpAction on the intake topic: the wrong type
seed intake wrong_type FollowUpAction <<'P'
action_id: "0123456789abcdef-01234567:action:1" lead_id: "0123456789abcdef-01234567"
channel: "email" step: 1 scheduled_for_ms: 1767600000000 kind: TOUCH
P
printf '\xff\xff\xff\xff not protobuf' | raw intake garbage

# ---- qualification: LeadAccepted --------------------------------------------
seed qualification valid LeadAccepted <<'P'
lead_id: "0123456789abcdef-01234567" event_id: "ev-1" source: "referral"
email: "ada@example.com" email_domain: "example.com" full_name: "Ada"
company: "AE" title: "Head of Growth" company_size: 2500 country: "DE"
timezone: "Europe/Berlin" submitted_at_ms: 1767600000000
accepted_at_ms: 1767600000100
attributes { key: "pages_viewed" value: "12" }
attributes { key: "emails_opened" value: "-1e308" }
merged_sources: "ads"
P
seed qualification bad_id LeadAccepted <<'P'
lead_id: "not-a-lead" country: "US" timezone: "America/New_York"
P
seed qualification no_country LeadAccepted <<'P'
lead_id: "0123456789abcdef-01234567" title: "Assistant to the CEO"
P
seed qualification odd_attrs LeadAccepted <<'P'
lead_id: "fedcba9876543210-89abcdef" country: "zz" timezone: "UTC"
source: "PURCHASED_LIST" company_size: 2147483647
attributes { key: "demo_requested" value: "nan" }
attributes { key: "webinar_attended" value: "inf" }
attributes { key: "pages_viewed" value: "1e400" }
P

# ---- followup: FollowUpEvent --------------------------------------------------
seed followup decision FollowUpEvent <<'P'
decision {
  decision_id: "0123456789abcdef-01234567:decision"
  lead_id: "0123456789abcdef-01234567" score: 0.71 kind: QUALIFIED
  reasons { feature: "title=vp" contribution: 1.0 }
  owner: "lena.fischer" team: "emea" model_version: "x"
  decided_at_ms: 1767600000000 segment: "EMEA/mid"
  lead { lead_id: "0123456789abcdef-01234567" country: "DE"
         timezone: "Europe/Berlin" submitted_at_ms: 1767600000000 }
}
P
seed followup next_touch FollowUpEvent <<'P'
next_touch { touch_id: "0123456789abcdef-01234567:touch:2"
  lead_id: "0123456789abcdef-01234567" step: 2
  scheduled_for_ms: 9223372036854775807 adaptive: true slot: 200 }
P
seed followup bad_kind FollowUpEvent <<'P'
decision { lead_id: "0123456789abcdef-01234567" kind: DECISION_KIND_UNSPECIFIED
  owner: "x" lead { timezone: "Mars/Olympus" } }
P
printf '' | raw followup empty

# ---- timing: TimingEvent ------------------------------------------------------
seed timing response TimingEvent <<'P'
response { event_id: "resp-1" lead_id: "0123456789abcdef-01234567"
  kind: CONVERTED occurred_at_ms: 1767600000000 deal_value_cents: 250000
  action_id: "0123456789abcdef-01234567:action:0" }
P
seed timing timer TimingEvent <<'P'
timer_fired { timer_id: "0123456789abcdef-01234567:timer:1|EMEA/mid"
  lead_id: "0123456789abcdef-01234567" step: 1 due_at_ms: 1767600000000
  fired_at_ms: 1767600001000 action_id: "0123456789abcdef-01234567:action:1" }
P
seed timing bad_response TimingEvent <<'P'
response { event_id: "" lead_id: "0123456789abcdef-01234567"
  deal_value_cents: -1 }
P
seed timing absurd_timer TimingEvent <<'P'
timer_fired { lead_id: "0123456789abcdef-01234567" step: 2147483647
  due_at_ms: 9223372036854775807 fired_at_ms: -9223372036854775808 }
P

# ---- policy: the decision config ----------------------------------------------
mkdir -p "$out/policy"
cp "$root/config/decisions.yaml" "$out/policy/default.yaml"
raw policy minimal.yaml <<'Y'
thresholds: { qualified: 0.5, nurture: 0.2 }
dedupe_window: 1d
control_share: 0
channels: { email: { cost: "0.01" } }
segments: { size_bands: [ { name: all } ] }
routing: [ { team: t } ]
teams: { t: { owners: [ { name: a, capacity: 1 } ] } }
cadences:
  qualified: { allowed_hours: "00:00-24:00", business_days: [mon, sun],
               steps: [ { channel: email, wait: 0, response_window: 1s } ] }
  nurture: { allowed_hours: "23:59-24:00", business_days: [sat],
             steps: [ { channel: email, wait: 1w1d1h1m1s, response_window: 520w } ] }
Y
raw policy broken.yaml <<'Y'
thresholds:
  qualified: 0.2
  nurture: 0.9
cadences: &a { x: *a }
teams: [1, 2
Y
raw policy anchors.yaml <<'Y'
x: &x [*x, *x]
routing: !!binary AAAA
"\u0000": ~
Y

# ---- model: the model file ------------------------------------------------------
mkdir -p "$out/model"
cp "$root/config/model.json" "$out/model/default.json"
raw model minimal.json <<'J'
{"format":"lastmile-logistic-v1","version":"v","weights":{"bias":0}}
J
raw model bad.json <<'J'
{"format":"lastmile-logistic-v1","version":"","weights":{"bias":1e999,"bias":2},
 "numeric_attributes":["a","a"],"extra":null
J
raw model types.json <<'J'
{"format":"lastmile-logistic-v1","version":"1","description":"\ud83d\ude00 \u0000",
 "numeric_attributes":["pages_viewed"],"weights":{"bias":-1,"attr:pages_viewed":0.5,
 "title=vp":true,"":1,"x":-0.0}}
J

# ---- redis_url: LASTMILE_REDIS_URL ------------------------------------------------
printf 'redis://127.0.0.1:6379/0' | raw redis_url tcp
printf 'redis://worker:s3cret-passw0rd@redis.internal:6380/15' | raw redis_url acl
printf 'redis://:only-a-password-here@[::1]:65535' | raw redis_url ipv6
printf 'unix:///run/redis/redis.sock?db=3' | raw redis_url unix
printf 'rediss://h:0/99999999999999999999' | raw redis_url bad
printf 'redis+cluster://worker:s3cret@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002' | raw redis_url cluster

# ---- pbjson: JSON lines for `lastmile publish` ---------------------------------------
# the first byte picks the topic (byte % 7): F intake, G qualification,
# H followup, I actions, J timing, K outcomes, L dlq
raw pbjson intake <<'J'
F{"event_id":"ev-1","source":"web_form","email":"ada@example.com","country":"GB","company_size":"42","submitted_at_ms":1767600000000,"attributes":{"pages_viewed":"7"}}
J
raw pbjson followup <<'J'
H{"decision":{"lead_id":"0123456789abcdef-01234567","kind":"QUALIFIED","score":"NaN","reasons":[{"feature":"bias","contribution":-1e308}],"lead":{"merged_sources":["a",null]}}}
J
raw pbjson timing <<'J'
J{"response":{"event_id":"r","kind":99,"deal_value_cents":"-9223372036854775808"},"timer_fired":null}
J
raw pbjson dlq <<'J'
L{"original":"AAECAwQ=","original_key":"_-8","partition":-1,"offset":9223372036854775807,"reason":"\u00e9"}
J
raw pbjson bad <<'J'
G{"lead_id":1,"unknown_key":[],"company_size":2147483648}
J

# ---- publish: `lastmile publish --dry-run` on CSV or JSON lines -----------------
# the first byte picks the format: even (e.g. '0') CSV, odd ('1') JSON lines
{
  printf '0\357\273\277' # a byte-order mark, as spreadsheets write
  cat <<'C'
event_id,source,email,full_name,country,company_size,attributes.pages_viewed
ev-1,web_form,ada@example.com,"Lovelace, Ada",GB,120,7
ev-2,crm,"quoted ""name""@example.com","multi
line",DE,,
,ads,bob@example.com,Bob,US,not-a-number,1
C
} | raw publish leads_csv
raw publish bad_header_csv <<'C'
0email,email,lead,attributes.
a@b.c,x
C
raw publish leads_jsonl <<'J'
1{"event_id":"ev-1","source":"web_form","email":"ada@example.com","country":"GB"}
{"email":"bob@example.com","company_size":"12","attributes":{"x":"1"}}
not json
{"email":42}

J

# ---- gateway: a request body (first byte: kind and content type) ----------------
# byte 0: kind = b % 4 (leads, responses, activities, owner-status);
# content type = (b / 4) % 3 (JSON, form, text/plain)
raw gateway lead_json <<'J'
0{"source":"web_form","email":"ada@example.com","country":"GB","company_size":40,"attributes":{"pages":7,"ok":true}}
J
raw gateway leads_array <<'J'
0[{"source":"w","email":"a@b.de","country":"DE"},{"email":"bad","company_size":"x","nope":1},3]
J
raw gateway lead_form <<'F'
4source=web_form&email=Ada%40Example.com&country=GB&company_size=12&attributes.page=%2Fpricing&full_name=A+B&x=%zz
F
raw gateway response <<'J'
1{"lead_id":"L-1","kind":"REPLIED","deal_value_cents":"12"}
J
raw gateway activity <<'J'
2[{"event_id":"e","action_id":"a","lead_id":"L","owner":"o","kind":"SNOOZED","snoozed_until_ms":1}]
J
raw gateway owner_status <<'J'
3{"owner":"ana","status":"AWAY","until_ms":"x"}
J

echo "make_corpus: wrote $(find "$out" -type f | wc -l) seeds under $out"
