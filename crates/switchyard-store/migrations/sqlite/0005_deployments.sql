-- Deployments added through the admin API (`/model/new`): LiteLLM's `model_list` entries kept
-- in the database, so that they survive restarts and every replica serves them. `revision`
-- counts every change, so a replica learns that the list changed by reading one number.
CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    model_name TEXT NOT NULL,
    litellm_params TEXT NOT NULL,
    model_info TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE deployments_revision (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    revision BIGINT NOT NULL
);
INSERT INTO deployments_revision (id, revision) VALUES (1, 0);
