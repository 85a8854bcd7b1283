--[[
  Creates a payment at version 1, with its idempotency record.

  KEYS: 1 idempotency key (the payment key when there is none), 2 payment,
        3 timeline, 4 events stream, 5 status index of the initial status,
        6 index by createdAt, 7 the shop's index by createdAt
  ARGV: 1 id, 2 request hash ('' = no idempotency key), 3 idempotency TTL ms,
        4 status score (createdAt), 5 stream maxlen ('0' = none),
        6.. sections: hash fields (pairs), timeline entries,
        events (type, subject, sequence, JSON)
  Returns {'created', id} | {'existing', id} | {'conflict', id} | {'id_taken', id}
]]
--- @include "includes/sections"
--- @include "includes/append-events"

local section = section_reader(6)

if ARGV[2] ~= '' then
  local current = redis.call('HMGET', KEYS[1], 'id', 'requestHash')
  if current[1] then
    if current[2] == ARGV[2] then return {'existing', current[1]} end
    return {'conflict', current[1]}
  end
end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'id_taken', ARGV[1]} end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'requestHash', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
local fields = section(2)
redis.call('HSET', KEYS[2], unpack(fields))
local timeline, n = section(1)
if n > 0 then redis.call('RPUSH', KEYS[3], unpack(timeline)) end
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[6], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[7], ARGV[4], ARGV[1])
append_events(KEYS[4], ARGV[5], section(4))
return {'created', ARGV[1]}
