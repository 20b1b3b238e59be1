-- The end user a call was made for (the body's `user`, or the operator's header), so end-user
-- budgets can be rebuilt from the log like key, user and team budgets.
ALTER TABLE spend_logs ADD COLUMN end_user TEXT;
CREATE INDEX spend_logs_end_user ON spend_logs (end_user, time_ms);
