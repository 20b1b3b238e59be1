-- Responses passed through to an upstream's own Responses API (OpenAI, Azure OpenAI) are kept
-- too, so that only the key that created one may read it or continue it: `deployment` names
-- the deployment that holds it upstream, whose `previous_response_id` a continuation forwards.
-- NULL for responses the gateway alone holds (served by translation).
ALTER TABLE responses ADD COLUMN deployment TEXT;
