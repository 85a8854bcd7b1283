--[[
  Stores a machine step: the snapshot and fields, the status and its index
  entry, the timeline and the events, compare-and-set on the version.

  KEYS: 1 payment, 2 timeline, 3 events stream, 4.. status index keys of the shard: every one,
        or only those of the current status and the new one
  ARGV: 1 expected version, 2 new status, 3 updatedAt, 4 stream maxlen ('0' = none),
        5 '1' to clear the intent, 6 card action (keep | set | erase), 7 new sealed card,
        8.. sections: hash fields (pairs), timeline entries,
        events (type, subject, sequence, JSON)
  Returns {'ok', version} | {'not_found'} | {'version_conflict', version}
]]
--- @include "includes/sections"
--- @include "includes/append-events"

local section = section_reader(8)

local current = redis.call('HMGET', KEYS[1], 'version', 'id', 'status')
local version = current[1]
if not version then return {'not_found'} end
if version ~= ARGV[1] then return {'version_conflict', version} end
local index = {}
for k = 4, #KEYS do
  local status = string.match(KEYS[k], ':status:([%w_]+)$')
  if status then index[status] = KEYS[k] end
end
if not index[ARGV[2]] then return redis.error_reply('ERR unknown status ' .. ARGV[2]) end
if current[3] and not index[current[3]] then
  return redis.error_reply('ERR no status index key for the current status ' .. current[3])
end
local next_version = tonumber(version) + 1
local set = {'version', string.format('%d', next_version), 'status', ARGV[2], 'updatedAt', ARGV[3]}
local fields, n_fields = section(2)
for k = 1, n_fields * 2 do set[#set + 1] = fields[k] end
if ARGV[6] == 'set' then
  set[#set + 1] = 'card'
  set[#set + 1] = ARGV[7]
end
redis.call('HSET', KEYS[1], unpack(set))
if ARGV[5] == '1' and ARGV[6] == 'erase' then
  redis.call('HDEL', KEYS[1], 'intent', 'card')
elseif ARGV[5] == '1' then
  redis.call('HDEL', KEYS[1], 'intent')
elseif ARGV[6] == 'erase' then
  redis.call('HDEL', KEYS[1], 'card')
end
if current[3] and current[3] ~= ARGV[2] then redis.call('ZREM', index[current[3]], current[2]) end
redis.call('ZADD', index[ARGV[2]], ARGV[3], current[2])
local timeline, n = section(1)
if n > 0 then redis.call('RPUSH', KEYS[2], unpack(timeline)) end
append_events(KEYS[3], ARGV[4], section(4))
return {'ok', next_version}
