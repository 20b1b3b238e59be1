-- Checks every limit of one call and, only if all of them admit it, counts it: one request and
-- ARGV[1] tokens against each limit, in the current minute of the Redis server's clock (one clock
-- for every replica).
--
-- KEYS[i]: the base name of limit i. ARGV[1]: the call's estimated tokens. ARGV[2i] and
-- ARGV[2i+1]: the requests and tokens per minute of limit i, -1 for no ceiling.
-- Returns {0, 0, 0, window} when the call is admitted, else {kind, i, retry_after_ms, window}:
-- kind 1 when limit i refused for requests, 2 for tokens.
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call('TIME')
local seconds = tonumber(time[1])
local window = math.floor(seconds / 60)
local retry_after_ms = (60 - seconds % 60) * 1000 - math.floor(tonumber(time[2]) / 1000)
local tokens = tonumber(ARGV[1])
local ttl = 120

for i = 1, #KEYS do
  local rpm = tonumber(ARGV[2 * i])
  local tpm = tonumber(ARGV[2 * i + 1])
  if rpm >= 0 then
    local used = tonumber(redis.call('GET', KEYS[i] .. ':rpm:' .. window) or '0')
    if used + 1 > rpm then return {1, i, retry_after_ms, window} end
  end
  if tpm >= 0 then
    local used = tonumber(redis.call('GET', KEYS[i] .. ':tpm:' .. window) or '0')
    if tpm == 0 or used + tokens > tpm then return {2, i, retry_after_ms, window} end
  end
end

for i = 1, #KEYS do
  if tonumber(ARGV[2 * i]) >= 0 then
    local key = KEYS[i] .. ':rpm:' .. window
    redis.call('INCR', key)
    redis.call('EXPIRE', key, ttl)
  end
  if tonumber(ARGV[2 * i + 1]) >= 0 then
    local key = KEYS[i] .. ':tpm:' .. window
    redis.call('INCRBY', key, tokens)
    redis.call('EXPIRE', key, ttl)
  end
end
return {0, 0, 0, window}
