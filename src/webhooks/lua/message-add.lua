-- Adds the messages of one event (one per endpoint), each once, with their
-- log and backlog entries; every key is in the event's shard.
--
-- KEYS: 1 the event's body, 2 the shard's first-attempt leases, then per
--       message 3 keys: the message, the endpoint's log, the endpoint's
--       backlog (pending)
-- ARGV: 1 retention in seconds, 2 creation time ms (the score), 3 event id,
--       4 '1' to also drop log entries older than ARGV[5], 5 cutoff ms,
--       6 the body, 7 the lease deadline ms, then per message two: its JSON
--       and its lease member when its first attempt is made in process (a
--       lease is taken), else ''
-- Returns, per message: 'created', or the status of the message that was
-- already there ('pending', 'delivered', 'failed'): an event fanned out
-- again after a crash neither resets a message nor puts a settled one back
-- in the backlog. A lease is taken only for a created message, in the same
-- write: a message is never without either a lease or a job to send it.
local ttl = ARGV[1]
local score = ARGV[2]
local eventId = ARGV[3]
local out = {}
local created = false
for i = 1, (#KEYS - 2) / 3 do
  local message, log, pending = KEYS[3 * i], KEYS[3 * i + 1], KEYS[3 * i + 2]
  local existing = redis.call('GET', message)
  if existing then
    out[i] = cjson.decode(existing).status
  else
    redis.call('SET', message, ARGV[6 + 2 * i], 'EX', ttl)
    created = true
    redis.call('ZADD', log, score, eventId)
    redis.call('ZADD', pending, score, eventId)
    -- Indexes of an endpoint that stops receiving go away with its messages.
    redis.call('EXPIRE', log, ttl)
    redis.call('EXPIRE', pending, ttl)
    if ARGV[4] == '1' then
      redis.call('ZREMRANGEBYSCORE', log, '-inf', '(' .. ARGV[5])
    end
    local lease = ARGV[7 + 2 * i]
    if lease ~= '' then
      redis.call('ZADD', KEYS[2], ARGV[7], lease)
    end
    out[i] = 'created'
  end
end
if created then
  -- The body lives as long as the newest message that needs it.
  redis.call('SET', KEYS[1], ARGV[6], 'EX', ttl)
end
return out
