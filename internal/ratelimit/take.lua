-- One rate-limit decision over several fixed windows, atomically.
-- KEYS[i]     the counter of window i for its current interval
-- ARGV[2i-1]  the limit of window i
-- ARGV[2i]    the counter's time to live in milliseconds (rest of the window + grace)
-- Returns {allowed (1|0), count_1, ..., count_n}: the counts after the decision.
-- A denied request increments nothing, so it consumes no quota in any window.
local reply = {1}
for i = 1, #KEYS do
  local count = tonumber(redis.call('GET', KEYS[i]) or '0')
  reply[i + 1] = count
  if count >= tonumber(ARGV[2 * i - 1]) then
    reply[1] = 0
  end
end
if reply[1] == 1 then
  for i = 1, #KEYS do
    local count = redis.call('INCR', KEYS[i])
    if count == 1 then
      redis.call('PEXPIRE', KEYS[i], ARGV[2 * i])
    end
    reply[i + 1] = count
  end
end
return reply
