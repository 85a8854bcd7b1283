-- Stores a message after an attempt or a replay, only if it is still the
-- generation the writer read (a replay starts a new generation: an older
-- delivery series must not overwrite it), keeping the backlog in step.
-- A settled message (delivered or failed) also gives up its first-attempt
-- lease, if it held one.
--
-- KEYS: 1 the message, 2 the endpoint's backlog (pending), 3 the shard's
--       first-attempt leases
-- ARGV: 1 message JSON, 2 expected generation, 3 event id, 4 new status,
--       5 creation time ms (the backlog score), 6 the lease member, 7 the
--       message's generation as written
-- Returns 'ok', 'stale' (another generation is stored, or this one is
-- settled and the write would make it pending) or 'missing' (it expired: it
-- leaves the backlog and is not written again).
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('ZREM', KEYS[3], ARGV[6])
  return 'missing'
end
local stored = cjson.decode(current)
if tostring(stored.generation or 0) ~= ARGV[2] then
  return 'stale'
end
-- Within one generation a settled message stays settled: an attempt that
-- failed while another one (a job, or a first attempt run again) delivered
-- it must not put it back to pending, with no job or lease left to send it.
if stored.status ~= 'pending' and ARGV[4] == 'pending' and ARGV[7] == ARGV[2] then
  return 'stale'
end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
if ARGV[4] == 'pending' then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[3])
else
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('ZREM', KEYS[3], ARGV[6])
end
return 'ok'
