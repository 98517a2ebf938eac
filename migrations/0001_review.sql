-- pvwatch review database, version 1: users, credentials, sessions, signal topics and
-- their append-only history. One file for SQLite and PostgreSQL: only the types and
-- syntax both accept (BIGINT, TEXT, DOUBLE PRECISION; timestamps are UTC RFC 3339 text
-- made in Rust; ids are allocated from `counters` in the same transaction, not by a
-- dialect's identity column).

CREATE TABLE counters (
    name    TEXT PRIMARY KEY,
    next_id BIGINT NOT NULL
);
INSERT INTO counters (name, next_id) VALUES ('users', 0);
INSERT INTO counters (name, next_id) VALUES ('topics', 0);

CREATE TABLE users (
    id            BIGINT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'viewer')),
    region        TEXT,
    -- argon2id PHC string; NULL until `pvwatch user passwd` sets one (no login before).
    password_hash TEXT,
    created_at    TEXT NOT NULL,
    password_changed_at TEXT
);

-- API tokens: only the SHA-256 of the token is kept (the token is shown once).
CREATE TABLE api_tokens (
    token_hash   TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Browser sessions: the SHA-256 of the cookie's token, the CSRF token, the expiry.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Failed logins, by key (a user name or a client address), for throttling.
CREATE TABLE login_failures (
    key TEXT NOT NULL,
    at  TEXT NOT NULL
);
CREATE INDEX login_failures_key_at ON login_failures (key, at);

-- Signal topics (EU GVP Module IX): one product x event of a class, optionally from an
-- alert, with the alert's region (NULL: the pipeline's whole scope).
CREATE TABLE topics (
    id            BIGINT PRIMARY KEY,
    class         TEXT NOT NULL,
    product_id    TEXT NOT NULL,
    event         TEXT NOT NULL,
    region        TEXT,
    alert_id      TEXT,
    state         TEXT NOT NULL CHECK (state IN ('new', 'validation', 'validated', 'not_validated', 'assessment', 'closed')),
    outcome       TEXT CHECK (outcome IN ('refuted', 'labelled', 'known', 'monitor', 'action_recommended')),
    version       BIGINT NOT NULL,
    assignee_id   BIGINT REFERENCES users (id) ON DELETE SET NULL,
    due_date      TEXT,
    opened_at     TEXT NOT NULL,
    opened_by     TEXT NOT NULL,
    decided_at    TEXT,
    decided_by    TEXT,
    evidence_a    BIGINT,
    evidence_eb05 DOUBLE PRECISION,
    last_comment  TEXT,
    updated_at    TEXT NOT NULL
);
CREATE INDEX topics_signal ON topics (class, product_id, event);
CREATE INDEX topics_alert ON topics (alert_id);

-- The audit trail: one row per topic version, never updated or deleted (guarded by the
-- dialect's triggers in migration 2). User names are copied, so removing a user keeps
-- who did what.
CREATE TABLE topic_events (
    topic_id      BIGINT NOT NULL REFERENCES topics (id),
    version       BIGINT NOT NULL,
    at            TEXT NOT NULL,
    user_name     TEXT NOT NULL,
    action        TEXT NOT NULL CHECK (action IN ('create', 'transition', 'assign', 'due_date', 'comment')),
    from_state    TEXT,
    to_state      TEXT,
    outcome       TEXT,
    comment       TEXT,
    rationale     TEXT,
    assignee      TEXT,
    due_date      TEXT,
    evidence_a    BIGINT,
    evidence_eb05 DOUBLE PRECISION,
    PRIMARY KEY (topic_id, version)
);
