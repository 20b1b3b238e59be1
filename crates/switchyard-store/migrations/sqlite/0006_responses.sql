-- Responses kept for the Responses API (`POST /v1/responses` unless `store: false`), read back by
-- `GET /v1/responses/{id}` and continued by `previous_response_id`. Each belongs to the key
-- that created it: another key never sees it. `response` is the response object as JSON;
-- `conversation` the input items that led to it (the conversation it continued, then its own
-- input), as a JSON array.
CREATE TABLE responses (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    response TEXT NOT NULL,
    conversation TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX responses_by_key ON responses (key_id);
