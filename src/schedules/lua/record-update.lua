--[[
  Replaces a schedule record, compare-and-set on its version, and keeps its
  waiting index entry with it.

  KEYS: 1 record, 2 events stream, 3 waiting index
  ARGV: 1 expected version, 2 record JSON, 3 id, 4 stream maxlen,
        5 '1' when the record waits for a payment to settle, 6 updatedAt (waiting score),
        7.. events (type, JSON pairs)
  Returns the new version, -1 when there is no record, -2 on another version.
]]
--- @include "includes/append-record-events"

local current = redis.call('HGET', KEYS[1], 'version')
if not current then return -1 end
if current ~= ARGV[1] then return -2 end
local next = tostring(tonumber(current) + 1)
redis.call('HSET', KEYS[1], 'version', next, 'record', ARGV[2])
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[3])
else
  redis.call('ZREM', KEYS[3], ARGV[3])
end
append_record_events(KEYS[2], ARGV[4], ARGV[3], next, 7)
return tonumber(next)
