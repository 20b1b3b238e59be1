-- Model aliases: a key's (LiteLLM's `aliases`) and a team's (its `model_aliases`), each a JSON
-- object mapping the model name a caller asks for to the model that serves it. Existing keys
-- and accounts have none.
ALTER TABLE virtual_keys ADD COLUMN aliases TEXT NOT NULL DEFAULT '{}';
ALTER TABLE accounts ADD COLUMN model_aliases TEXT NOT NULL DEFAULT '{}';
