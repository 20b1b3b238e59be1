-- Keys, users, teams, spend and budget counters. Times are integer unix seconds (spend: unix
-- milliseconds); model lists and metadata are JSON text; booleans are 0/1.

-- Virtual keys: only the SHA-256 of each secret is stored.
CREATE TABLE virtual_keys (
    id TEXT PRIMARY KEY NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    alias TEXT,
    models TEXT NOT NULL DEFAULT '[]',
    max_budget REAL,
    budget_duration TEXT,
    rpm_limit INTEGER,
    tpm_limit INTEGER,
    expires_at INTEGER,
    metadata TEXT NOT NULL DEFAULT '{}',
    user_id TEXT,
    team_id TEXT,
    blocked BOOLEAN NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX virtual_keys_user_id ON virtual_keys (user_id, created_at);
CREATE INDEX virtual_keys_team_id ON virtual_keys (team_id, created_at);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    alias TEXT,
    max_budget REAL,
    budget_duration TEXT,
    rpm_limit INTEGER,
    tpm_limit INTEGER,
    metadata TEXT NOT NULL DEFAULT '{}',
    blocked BOOLEAN NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE teams (
    id TEXT PRIMARY KEY NOT NULL,
    alias TEXT,
    max_budget REAL,
    budget_duration TEXT,
    rpm_limit INTEGER,
    tpm_limit INTEGER,
    models TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}',
    blocked BOOLEAN NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

-- One row per call; `request_id` makes batch retries idempotent.
CREATE TABLE spend_logs (
    request_id TEXT PRIMARY KEY NOT NULL,
    time_ms INTEGER NOT NULL,
    key_id TEXT,
    key_alias TEXT,
    user_id TEXT,
    team_id TEXT,
    model_requested TEXT NOT NULL,
    model_group TEXT,
    deployment TEXT,
    provider TEXT,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    cost_estimated BOOLEAN NOT NULL,
    latency_ms INTEGER NOT NULL,
    status INTEGER NOT NULL,
    cache_hit BOOLEAN NOT NULL,
    experiment TEXT,
    variant TEXT
);
CREATE INDEX spend_logs_time ON spend_logs (time_ms);
CREATE INDEX spend_logs_key ON spend_logs (key_id, time_ms);
CREATE INDEX spend_logs_user ON spend_logs (user_id, time_ms);
CREATE INDEX spend_logs_team ON spend_logs (team_id, time_ms);

-- Spend per budget window; `period_end` is NULL for budgets that never reset.
CREATE TABLE spend_counters (
    scope TEXT NOT NULL,
    id TEXT NOT NULL,
    period_start INTEGER NOT NULL,
    period_end INTEGER,
    spent REAL NOT NULL,
    PRIMARY KEY (scope, id, period_start)
);
