#!/usr/bin/env bash
# A plain-curl session against the toss-sim binary: issue a billing key, charge it, look the
# payment up, refund part of it, replay that refund with its Idempotency-Key, get refused twice
# (a second refund within a second, then more than the balance), refund the rest, and open the
# receipt page. The README's "A curl session" is this script's output.
#
#   crates/toss-sim/examples/curl-session.sh        (from anywhere; needs cargo, curl, jq)
#
# TOSS_SIM_BIN=/path/to/toss-sim skips the build.
set -euo pipefail
cd "$(dirname "$0")/../../.."

TMP=$(mktemp -d)
if [[ -z "${TOSS_SIM_BIN:-}" ]]; then
    cargo build --quiet -p toss-sim
    TOSS_SIM_BIN=target/debug/toss-sim
fi

# The simulator on a free port with a fresh SQLite file; stopped (by its own pid) on exit.
PORT=0 SIMULATOR_DATABASE="$TMP/sim.sqlite" RUST_LOG=warn "$TOSS_SIM_BIN" >"$TMP/stdout" &
SIM_PID=$!
trap 'kill "$SIM_PID" 2>/dev/null; wait "$SIM_PID" 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do
    grep -q 'listening on' "$TMP/stdout" && break
    sleep 0.1
done
SIM=$(sed -n 's/.* listening on //p' "$TMP/stdout")

# Toss's documented test secret key, as `Basic base64(secretKey + ":")`.
AUTH="Authorization: Basic $(printf '%s:' test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R | base64)"
JSON='Content-Type: application/json'

# Prints the command, then the HTTP status, then the answer through a jq filter.
step() {
    printf '\n$ %s\n' "$1"
    eval "$1"
}
call() {
    local filter=$1
    shift
    curl -sS -o "$TMP/body" -w 'HTTP %{http_code}\n' "$@"
    jq "$filter" "$TMP/body"
}

echo "# toss-sim listening on $SIM"

# A sandbox authKey, as the sandbox payment window mints it: `sbx.` + base64url(JSON) naming the
# customerKey and the card typed (BIN, last 4 digits, MMYY expiry).
CUSTOMER=cust-5f0c9a7e-curl
CARD=$(printf '{"ck":"%s","bin":"451842","last4":"1234","exp":"1230","owner":"PERSONAL"}' "$CUSTOMER")
AUTH_KEY="sbx.$(printf '%s' "$CARD" | base64 | tr '+/' '-_' | tr -d '=\n')"

step 'call . -X POST "$SIM/v1/billing/authorizations/issue" -H "$AUTH" -H "$JSON" -d "{\"authKey\": \"$AUTH_KEY\", \"customerKey\": \"$CUSTOMER\"}"'
BILLING_KEY=$(jq -r .billingKey "$TMP/body")
# A billing key can end in '=': percent-encode it in the path.
BILLING_KEY_IN_PATH=$(jq -rn --arg k "$BILLING_KEY" '$k | @uri')

step 'call . -X POST "$SIM/v1/billing/$BILLING_KEY_IN_PATH" -H "$AUTH" -H "$JSON" -H "Idempotency-Key: charge-0001" -d "{\"customerKey\": \"$CUSTOMER\", \"amount\": 9900, \"orderId\": \"order-0001\", \"orderName\": \"월간 구독\"}"'
PAYMENT_KEY=$(jq -r .paymentKey "$TMP/body")
RECEIPT=$(jq -r .receipt.url "$TMP/body")

BRIEF='{status, totalAmount, balanceAmount, cancels: (.cancels | if . then map({cancelAmount, refundableAmount, transactionKey, canceledAt}) else . end)}'
step 'call "{paymentKey, orderId, receipt} + $BRIEF" "$SIM/v1/payments/$PAYMENT_KEY" -H "$AUTH"'

step 'call "$BRIEF" -X POST "$SIM/v1/payments/$PAYMENT_KEY/cancel" -H "$AUTH" -H "$JSON" -H "Idempotency-Key: refund-0001" -d "{\"cancelReason\": \"고객 요청 (부분 환불)\", \"cancelAmount\": 3000}"'

# The same Idempotency-Key again: the first answer, nothing refunded twice.
step 'call "$BRIEF" -X POST "$SIM/v1/payments/$PAYMENT_KEY/cancel" -H "$AUTH" -H "$JSON" -H "Idempotency-Key: refund-0001" -d "{\"cancelReason\": \"고객 요청 (부분 환불)\", \"cancelAmount\": 3000}"'

# Another refund (a new key) less than a second after the first: only the first is processed.
step 'call . -X POST "$SIM/v1/payments/$PAYMENT_KEY/cancel" -H "$AUTH" -H "$JSON" -H "Idempotency-Key: refund-0002" -d "{\"cancelReason\": \"두 번째 환불\", \"cancelAmount\": 1000}"'

step 'sleep 1.1'

step 'call . -X POST "$SIM/v1/payments/$PAYMENT_KEY/cancel" -H "$AUTH" -H "$JSON" -H "Idempotency-Key: refund-0003" -d "{\"cancelReason\": \"잔액보다 큰 환불\", \"cancelAmount\": 7000}"'

# No cancelAmount: whatever is left.
step 'call "$BRIEF" -X POST "$SIM/v1/payments/$PAYMENT_KEY/cancel" -H "$AUTH" -H "$JSON" -H "Idempotency-Key: refund-0004" -d "{\"cancelReason\": \"구독 해지 (전액 환불)\"}"'

step 'sleep 1.1'

step 'call . -X POST "$SIM/v1/payments/$PAYMENT_KEY/cancel" -H "$AUTH" -H "$JSON" -d "{\"cancelReason\": \"한 번 더\"}"'

step 'call "[.calls[] | {api, idempotencyKey, status, outcome}]" "$SIM/__control/calls?api=cancel"'

step 'curl -sS "$RECEIPT"'
