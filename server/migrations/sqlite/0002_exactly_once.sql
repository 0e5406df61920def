-- v2: customers apart from sessions, write-ahead exchanges, charges that are reconciled.
-- Upgrades a v1 database in place: sessions, billing keys (same encryption, same associated
-- data), stored hand-off outcomes and charges are carried over; nothing is dropped that held data
-- before it was copied. Times become integer milliseconds since the Unix epoch (one representation
-- on SQLite and PostgreSQL, compared as integers).

ALTER TABLE sessions RENAME TO v1_sessions;
ALTER TABLE billing_keys RENAME TO v1_billing_keys;
ALTER TABLE issue_outcomes RENAME TO v1_issue_outcomes;
ALTER TABLE charges RENAME TO v1_charges;
ALTER TABLE charge_attempts RENAME TO v1_charge_attempts;
DROP INDEX IF EXISTS billing_keys_customer;

-- A customer this shop knows. customer_key is what Toss sees; external_user_id is the merchant's
-- own user id when a login is wired in (server/README.md, "Who is the customer").
CREATE TABLE customers (
    id               INTEGER PRIMARY KEY,
    customer_key     TEXT NOT NULL UNIQUE,
    external_user_id TEXT UNIQUE,
    created_at       BIGINT NOT NULL
);

-- A browser session of a customer: only the SHA-256 of the cookie's token is stored.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY NOT NULL,
    customer_id  BIGINT NOT NULL REFERENCES customers (id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Billing keys, sealed with AES-256-GCM (key_id names the encryption key, NULL = the v1 demo key
-- file), the customerKey bound as associated data. key_hash is SHA-256 of the billing key: one row
-- per billing key, however often Toss replays it.
CREATE TABLE billing_keys (
    id           INTEGER PRIMARY KEY,
    customer_key TEXT NOT NULL,
    key_id       TEXT,
    nonce        BLOB NOT NULL,
    ciphertext   BLOB NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    card_company TEXT,
    card_number  TEXT,
    card_type    TEXT,
    owner_type   TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX billing_keys_customer ON billing_keys (customer_key, id);

-- One authKey → billing-key exchange, written before Toss is called (write-ahead). While PENDING,
-- the authKey is kept sealed so the exchange can be finished after a crash; the runner holds a
-- lease (lease_owner/lease_until) so instances never run one exchange at the same time.
-- answer_status/answer_body: the final answer every replay gets.
CREATE TABLE exchanges (
    idempotency_key TEXT PRIMARY KEY NOT NULL,
    customer_key    TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('PENDING', 'REGISTERED', 'REFUSED', 'EXPIRED')),
    sealed_auth_key BLOB,
    deadline_at     BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until     BIGINT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    answer_status   BIGINT,
    answer_body     TEXT,
    billing_key_id  BIGINT REFERENCES billing_keys (id),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX exchanges_due ON exchanges (status, next_attempt_at);

-- One charge of a billing key: one orderId, one Idempotency-Key, for ever. PENDING = not sent yet
-- or being sent; UNKNOWN = sent, outcome unclear (reconciled by Toss's order lookup); DONE, FAILED
-- final. sends counts the calls that may have reached Toss (written before each call).
CREATE TABLE charges (
    order_id        TEXT PRIMARY KEY NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    customer_key    TEXT NOT NULL,
    billing_key_id  BIGINT NOT NULL REFERENCES billing_keys (id),
    amount          BIGINT NOT NULL,
    order_name      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('PENDING', 'UNKNOWN', 'DONE', 'FAILED')),
    lease_owner     TEXT,
    lease_until     BIGINT,
    sends           BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    payment_key     TEXT,
    approved_at     TEXT,
    result_code     TEXT,
    result_message  TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX charges_due ON charges (status, next_attempt_at);
CREATE INDEX charges_customer ON charges (customer_key, created_at);

-- Every HTTP call made to Toss for a charge (CHARGE or LOOKUP), with what came back.
CREATE TABLE charge_calls (
    id          INTEGER PRIMARY KEY,
    order_id    TEXT NOT NULL REFERENCES charges (order_id),
    kind        TEXT NOT NULL CHECK (kind IN ('CHARGE', 'LOOKUP')),
    http_status BIGINT,
    outcome     TEXT NOT NULL,
    code        TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX charge_calls_order ON charge_calls (order_id, id);

-- Carry v1 over.
INSERT INTO customers (customer_key, created_at)
    SELECT customer_key, CAST(strftime('%s', created_at) AS INTEGER) * 1000 FROM v1_sessions;
INSERT OR IGNORE INTO customers (customer_key, created_at)
    SELECT DISTINCT customer_key, CAST(strftime('%s', created_at) AS INTEGER) * 1000 FROM v1_billing_keys;
-- v1 sessions never expired: they get the v2 absolute lifetime (30 days) from now.
INSERT INTO sessions (token_hash, customer_id, created_at, last_seen_at, expires_at)
    SELECT s.session_hash, c.id, CAST(strftime('%s', 'now') AS INTEGER) * 1000,
           CAST(strftime('%s', 'now') AS INTEGER) * 1000,
           (CAST(strftime('%s', 'now') AS INTEGER) + 30 * 86400) * 1000
    FROM v1_sessions s JOIN customers c ON c.customer_key = s.customer_key;
INSERT INTO billing_keys (id, customer_key, key_id, nonce, ciphertext, key_hash, card_company,
                          card_number, card_type, owner_type, created_at)
    SELECT id, customer_key, NULL, nonce, ciphertext, 'v1:' || id || ':' || key_hash, card_company,
           card_number, card_type, owner_type, CAST(strftime('%s', created_at) AS INTEGER) * 1000
    FROM v1_billing_keys;
INSERT INTO exchanges (idempotency_key, customer_key, status, deadline_at, next_attempt_at,
                       answer_status, answer_body, created_at, updated_at)
    SELECT idempotency_key, customer_key,
           CASE WHEN http_status = 200 THEN 'REGISTERED' ELSE 'REFUSED' END,
           CAST(strftime('%s', created_at) AS INTEGER) * 1000,
           CAST(strftime('%s', created_at) AS INTEGER) * 1000,
           http_status, body,
           CAST(strftime('%s', created_at) AS INTEGER) * 1000,
           CAST(strftime('%s', created_at) AS INTEGER) * 1000
    FROM v1_issue_outcomes;
-- v1 PENDING charges were left by a dropped connection: UNKNOWN, so the reconciler looks them up.
INSERT INTO charges (order_id, idempotency_key, customer_key, billing_key_id, amount, order_name,
                     status, sends, next_attempt_at, payment_key, approved_at, result_code,
                     result_message, created_at, updated_at)
    SELECT order_id, idempotency_key, customer_key, billing_key_id, amount, order_name,
           CASE status WHEN 'PENDING' THEN 'UNKNOWN' ELSE status END,
           (SELECT COUNT(*) FROM v1_charge_attempts a WHERE a.charge_id = c.id) + 1,
           CAST(strftime('%s', updated_at) AS INTEGER) * 1000,
           payment_key, approved_at, result_code, result_message,
           CAST(strftime('%s', created_at) AS INTEGER) * 1000,
           CAST(strftime('%s', updated_at) AS INTEGER) * 1000
    FROM v1_charges c;
INSERT INTO charge_calls (order_id, kind, http_status, outcome, code, created_at)
    SELECT c.order_id, 'CHARGE', a.http_status, a.outcome, a.code,
           CAST(strftime('%s', a.created_at) AS INTEGER) * 1000
    FROM v1_charge_attempts a JOIN v1_charges c ON c.id = a.charge_id;

DROP TABLE v1_charge_attempts;
DROP TABLE v1_charges;
DROP TABLE v1_issue_outcomes;
DROP TABLE v1_billing_keys;
DROP TABLE v1_sessions;
