-- Users, teams and organizations in one table: they share an alias, a budget, limits, models
-- and metadata; `kind` tells them apart. Only users have a role and an email, only teams an
-- organization. Members of teams and organizations, with their roles. Keys gain their
-- abbreviated secret (LiteLLM's `key_name`) and an organization; spend records the call type
-- and the organization charged.
CREATE TABLE accounts (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    alias TEXT,
    max_budget REAL,
    budget_duration TEXT,
    rpm_limit INTEGER,
    tpm_limit INTEGER,
    models TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}',
    blocked BOOLEAN NOT NULL DEFAULT 0,
    organization_id TEXT,
    user_role TEXT,
    user_email TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX accounts_organization ON accounts (organization_id);

INSERT INTO accounts (kind, id, alias, max_budget, budget_duration, rpm_limit, tpm_limit,
                      models, metadata, blocked, created_at, updated_at)
    SELECT 'user', id, alias, max_budget, budget_duration, rpm_limit, tpm_limit, '[]',
           metadata, blocked, created_at, created_at
    FROM users;
INSERT INTO accounts (kind, id, alias, max_budget, budget_duration, rpm_limit, tpm_limit,
                      models, metadata, blocked, created_at, updated_at)
    SELECT 'team', id, alias, max_budget, budget_duration, rpm_limit, tpm_limit, models,
           metadata, blocked, created_at, created_at
    FROM teams;
DROP TABLE users;
DROP TABLE teams;

CREATE TABLE members (
    kind TEXT NOT NULL,
    account_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (kind, account_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

ALTER TABLE virtual_keys ADD COLUMN key_name TEXT;
ALTER TABLE virtual_keys ADD COLUMN organization_id TEXT;
ALTER TABLE spend_logs ADD COLUMN organization_id TEXT;
ALTER TABLE spend_logs ADD COLUMN call_type TEXT;
CREATE INDEX spend_logs_organization ON spend_logs (organization_id, time_ms);
