--[[
  Stores a new schedule record at version 1, unless its id exists.

  KEYS: 1 record, 2 index, 3 events stream, 4 waiting index
  ARGV: 1 record JSON, 2 createdAt (index score), 3 id, 4 stream maxlen,
        5 '1' when the record waits for a payment to settle,
        6.. events (type, JSON pairs)
  Returns 1 when stored, 0 when the id exists.
]]
--- @include "includes/append-record-events"

if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'version', '1', 'record', ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
if ARGV[5] == '1' then redis.call('ZADD', KEYS[4], ARGV[2], ARGV[3]) end
append_record_events(KEYS[3], ARGV[4], ARGV[3], '1', 6)
return 1
