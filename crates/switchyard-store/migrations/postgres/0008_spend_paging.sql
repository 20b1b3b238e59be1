-- The spend log is read newest first and paged by (time_ms, request_id) (keyset paging: the
-- admin UI's spend log and CSV export): one index serves that order, the seek to a page's
-- start, and the time ranges the old time_ms index served.
CREATE INDEX spend_logs_time_id ON spend_logs (time_ms, request_id);
DROP INDEX spend_logs_time;
