-- Sessions: the browser's session cookie (stored only as its SHA-256) mapped to the
-- customerKey this server owns for that customer.
CREATE TABLE sessions (
    session_hash TEXT PRIMARY KEY NOT NULL,
    customer_key TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL
);

-- Billing keys, encrypted at rest (AES-256-GCM, random 96-bit nonce per row).
-- Only the masked card summary is kept in clear.
CREATE TABLE billing_keys (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_key  TEXT NOT NULL,
    nonce         BLOB NOT NULL,
    ciphertext    BLOB NOT NULL,
    key_hash      TEXT NOT NULL,
    card_company  TEXT NOT NULL,
    card_number   TEXT NOT NULL,
    card_type     TEXT,
    owner_type    TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX billing_keys_customer ON billing_keys (customer_key, id);

-- Definitive outcomes of hand-offs (success or Toss 4xx), keyed by the Idempotency-Key
-- ("ak-" + SHA-256 of the authKey). The authKey itself is never stored.
CREATE TABLE issue_outcomes (
    idempotency_key TEXT PRIMARY KEY NOT NULL,
    customer_key    TEXT NOT NULL,
    http_status     INTEGER NOT NULL,
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL
);

-- Charges requested by the operator, one row per orderId.
CREATE TABLE charges (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id        TEXT NOT NULL UNIQUE,
    customer_key    TEXT NOT NULL,
    billing_key_id  INTEGER NOT NULL REFERENCES billing_keys (id),
    amount          INTEGER NOT NULL,
    order_name      TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    status          TEXT NOT NULL, -- PENDING, DONE, FAILED (Toss refused), UNKNOWN (transient)
    payment_key     TEXT,
    approved_at     TEXT,
    result_code     TEXT,
    result_message  TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- Every HTTP attempt made to Toss for a charge, with its outcome.
CREATE TABLE charge_attempts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    charge_id       INTEGER NOT NULL REFERENCES charges (id),
    idempotency_key TEXT NOT NULL,
    http_status     INTEGER,
    outcome         TEXT NOT NULL, -- DONE, REFUSED, SERVER_ERROR, NETWORK_ERROR, TIMEOUT
    code            TEXT,
    created_at      TEXT NOT NULL
);
