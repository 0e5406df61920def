-- The schema of server/migrations/sqlite (0001 + 0002) for PostgreSQL. Statuses are enum types,
-- times integer milliseconds since the Unix epoch (as on SQLite), blobs bytea.

CREATE TYPE exchange_status AS ENUM ('PENDING', 'REGISTERED', 'REFUSED', 'EXPIRED');
CREATE TYPE charge_status AS ENUM ('PENDING', 'UNKNOWN', 'DONE', 'FAILED');
CREATE TYPE charge_call_kind AS ENUM ('CHARGE', 'LOOKUP');

-- A customer this shop knows. customer_key is what Toss sees; external_user_id is the merchant's
-- own user id when a login is wired in (server/README.md, "Who is the customer").
CREATE TABLE customers (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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

-- Billing keys, sealed with AES-256-GCM (key_id names the encryption key), the customerKey bound
-- as associated data. key_hash is SHA-256 of the billing key: one row per billing key.
CREATE TABLE billing_keys (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_key TEXT NOT NULL,
    key_id       TEXT,
    nonce        BYTEA NOT NULL,
    ciphertext   BYTEA NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    card_company TEXT,
    card_number  TEXT,
    card_type    TEXT,
    owner_type   TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX billing_keys_customer ON billing_keys (customer_key, id);

-- One authKey → billing-key exchange, written before Toss is called (write-ahead); see the SQLite
-- migration for the meaning of each column.
CREATE TABLE exchanges (
    idempotency_key TEXT PRIMARY KEY NOT NULL,
    customer_key    TEXT NOT NULL,
    status          exchange_status NOT NULL,
    sealed_auth_key BYTEA,
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

-- One charge of a billing key: one orderId, one Idempotency-Key, for ever.
CREATE TABLE charges (
    order_id        TEXT PRIMARY KEY NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    customer_key    TEXT NOT NULL,
    billing_key_id  BIGINT NOT NULL REFERENCES billing_keys (id),
    amount          BIGINT NOT NULL,
    order_name      TEXT NOT NULL,
    status          charge_status NOT NULL,
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

-- Every HTTP call made to Toss for a charge, with what came back.
CREATE TABLE charge_calls (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    TEXT NOT NULL REFERENCES charges (order_id),
    kind        charge_call_kind NOT NULL,
    http_status BIGINT,
    outcome     TEXT NOT NULL,
    code        TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX charge_calls_order ON charge_calls (order_id, id);
