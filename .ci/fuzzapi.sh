#!/usr/bin/env bash
# Fuzzes the whole HTTP API from its own OpenAPI document with schemathesis (PyPI), against
# a real `mirror serve` on loopback: a fresh SQLite database, development mode (so
# /openapi.json is served), the offline demo model only, and a registered user's bearer
# token and an admin's (.ci/fuzzapi_hooks.py), so the signed-in and the admins' routes
# are fuzzed past their 401. Fails on
# any 5xx, any response whose status, content type, headers or body the document does not
# describe (errors: the envelope), any request that breaks the document yet is accepted,
# and the other checks of .ci/schemathesis.toml.
#
#   bash .ci/fuzzapi.sh                       # CI: ~3 minutes on 2 cores
#   FUZZ_MAX_EXAMPLES=200 FUZZ_MAX_TIME=900 bash .ci/fuzzapi.sh   # a longer hunt
#   FUZZ_SEED=1234 bash .ci/fuzzapi.sh        # replay a run (the seed is printed)
#
# Idempotent: the virtual environment (.cache/venv-schemathesis, git-ignored) is reused
# when it already holds the pinned version. Everything else lives in a temporary folder
# that is removed on exit, and the server is stopped by its process id.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

SCHEMATHESIS_VERSION=4.32.5
PORT=${FUZZ_PORT:-18103}
MAX_EXAMPLES=${FUZZ_MAX_EXAMPLES:-25}   # per operation and phase
MAX_TIME=${FUZZ_MAX_TIME:-180}          # seconds, for the whole run
SEED=${FUZZ_SEED:-$(( (RANDOM << 15) | RANDOM ))}
VENV=${FUZZ_VENV:-$root/.cache/venv-schemathesis}
# The checks are in .ci/schemathesis.toml (all but positive_data_acceptance, and why);
# FUZZ_CHECKS=a,b overrides them.
CHECKS=${FUZZ_CHECKS:-}

log() { printf '== fuzzapi: %s\n' "$*"; }
die() { printf 'fuzzapi: %s\n' "$*" >&2; exit 1; }

# --- schemathesis, pinned, in a git-ignored virtual environment --------------------
if ! "$VENV/bin/st" --version 2>/dev/null | grep -qF "$SCHEMATHESIS_VERSION"; then
  log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
  "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" \
    || die "pip install schemathesis==$SCHEMATHESIS_VERSION failed"
fi
"$VENV/bin/st" --version | grep -qF "$SCHEMATHESIS_VERSION" || die "schemathesis $SCHEMATHESIS_VERSION is not runnable from $VENV"
py="$VENV/bin/python"

# --- the server ---------------------------------------------------------------------
work=$(mktemp -d /tmp/mirror-fuzzapi.XXXXXX)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

log "building mirror"
go build -o "$work/mirror" ./cmd/mirror

base="http://127.0.0.1:$PORT"
if curl -fsS -o /dev/null "$base/health" 2>/dev/null; then
  die "something already answers on port $PORT (set FUZZ_PORT)"
fi
log "starting mirror serve on port $PORT (SQLite in $work, development)"
# A clean environment: no provider keys (only the offline demo model), no DATABASE_URL or
# REDIS_URL from the caller, no .env (the server runs in the temporary folder). The rate
# limits are raised so that the fuzzer reaches the handlers instead of a 429 (the limiter
# has its own tests).
(cd "$work" && exec env -i PATH="$PATH" HOME="$work" \
  PORT="$PORT" ENVIRONMENT=development RUN_MODE=local \
  MIRROR_DATA_DIR="$work/data" DATABASE_URL="sqlite://$work/data/mirror.db" \
  MODELS_CONFIG="$root/config/models.yaml" \
  RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_LOGIN=1000000/minute \
  RATE_LIMIT_GENERATE=1000000/minute RATE_LIMIT_FEEDBACK_THUMB=1000000/minute \
  RATE_LIMIT_FEEDBACK_EDIT=1000000/minute \
  SCAN_WORKERS=1 LOG_LEVEL=warn \
  "$work/mirror" serve >"$work/server.log" 2>&1) &
server_pid=$!
for _ in $(seq 120); do
  curl -fsS -o /dev/null "$base/health" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; die "mirror serve exited"; }
  sleep 0.5
done
curl -fsS -o /dev/null "$base/openapi.json" || { cat "$work/server.log" >&2; die "no /openapi.json on $base"; }

# --- a signed-in user, and an admin -------------------------------------------------
# Registered here; .ci/fuzzapi_hooks.py signs them in (again after any 401, since fuzzing
# logout revokes the token) and puts the user's bearer token on the signed-in routes,
# the admin's on the admins' routes. The admin role is granted as an operator does.
export FUZZ_BASE_URL="$base" FUZZ_EMAIL="fuzz-$SEED-$$@example.com" FUZZ_ADMIN_EMAIL="fuzz-admin-$SEED-$$@example.com"
FUZZ_PASSWORD="fuzz $(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n') passphrase"
export FUZZ_PASSWORD
"$py" - <<'PY' || die "could not register the fuzzing users"
import json, os, urllib.request
def post(path, body):
    req = urllib.request.Request(os.environ["FUZZ_BASE_URL"] + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=20) as resp:
        return json.load(resp)
for email in (os.environ["FUZZ_EMAIL"], os.environ["FUZZ_ADMIN_EMAIL"]):
    post("/api/v1/auth/register", {"email": email, "password": os.environ["FUZZ_PASSWORD"], "full_name": "Fuzz"})
    assert post("/api/v1/auth/login", {"email": email, "password": os.environ["FUZZ_PASSWORD"]})["access_token"]
PY
(cd "$work" && env -i PATH="$PATH" HOME="$work" MIRROR_DATA_DIR="$work/data" \
  DATABASE_URL="sqlite://$work/data/mirror.db" "$work/mirror" admin grant "$FUZZ_ADMIN_EMAIL") >/dev/null \
  || die "mirror admin grant $FUZZ_ADMIN_EMAIL failed"

# --- schemathesis ---------------------------------------------------------------------
# Every check in CHECKS must hold for every response.
log "schemathesis: checks ${CHECKS:-of .ci/schemathesis.toml}; at most $MAX_EXAMPLES examples per operation and phase, ${MAX_TIME}s; seed $SEED"
status=0
(cd "$work" && SCHEMATHESIS_HOOKS="$root/.ci/fuzzapi_hooks.py" "$VENV/bin/st" \
  --config-file "$root/.ci/schemathesis.toml" run "$base/openapi.json" \
  ${CHECKS:+--checks "$CHECKS"} \
  --max-examples "$MAX_EXAMPLES" \
  --max-time "$MAX_TIME" \
  --seed "$SEED" \
  --workers 2 \
  --request-timeout 20 \
  --suppress-health-check all \
  --report junit --report-dir "$work/report" \
  --output-truncate false) || status=1

kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; die "mirror serve died during the run"; }
if grep -E '"level":"ERROR"|level=ERROR|panic' "$work/server.log" >/dev/null; then
  log "server errors logged during the run:"
  grep -E '"level":"ERROR"|level=ERROR|panic' "$work/server.log" | head -50 >&2
fi
if [ "$status" != 0 ]; then
  mkdir -p "$root/.cache/fuzzapi-last"
  cp -r "$work"/report "$work/server.log" "$root/.cache/fuzzapi-last/" 2>/dev/null || true
  die "schemathesis found failures (seed $SEED; reports and server log in .cache/fuzzapi-last)"
fi
log "clean: no failure in any check (seed $SEED)"
