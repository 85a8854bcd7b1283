--[[
  Records the Sips call about to be sent, compare-and-set on the version.

  KEYS: 1 payment, 2 timeline
  ARGV: 1 expected version, 2 intent JSON, 3 updatedAt, 4 '1' to replace a pending intent,
        5.. section: timeline entries
  Returns {'ok', version} | {'not_found'} | {'version_conflict', version}
        | {'intent_pending', version, intent JSON}
]]
--- @include "includes/sections"

local section = section_reader(5)

local version = redis.call('HGET', KEYS[1], 'version')
if not version then return {'not_found'} end
if version ~= ARGV[1] then return {'version_conflict', version} end
if ARGV[4] ~= '1' then
  local pending = redis.call('HGET', KEYS[1], 'intent')
  if pending then return {'intent_pending', version, pending} end
end
local next_version = tonumber(version) + 1
redis.call('HSET', KEYS[1], 'version', string.format('%d', next_version), 'intent', ARGV[2],
  'updatedAt', ARGV[3])
local timeline, n = section(1)
if n > 0 then redis.call('RPUSH', KEYS[2], unpack(timeline)) end
return {'ok', next_version}
