-- Corrects the tokens of a call counted by acquire.lua: a debit (more used than estimated) counts
-- in the current minute; a credit only while the call's minute is still current, never below 0.
--
-- KEYS[i]: the base name of each limit with a tokens-per-minute ceiling. ARGV[1]: the minute the
-- call was counted in. ARGV[2]: used minus estimated tokens.
if redis.replicate_commands then redis.replicate_commands() end
local window = math.floor(tonumber(redis.call('TIME')[1]) / 60)
local counted = tonumber(ARGV[1])
local delta = tonumber(ARGV[2])
local ttl = 120

for i = 1, #KEYS do
  if delta > 0 then
    local key = KEYS[i] .. ':tpm:' .. window
    redis.call('INCRBY', key, delta)
    redis.call('EXPIRE', key, ttl)
  elseif delta < 0 and counted == window then
    local key = KEYS[i] .. ':tpm:' .. window
    if redis.call('EXISTS', key) == 1 then
      local left = redis.call('DECRBY', key, -delta)
      if left < 0 then redis.call('INCRBY', key, -left) end
    end
  end
end
return 0
