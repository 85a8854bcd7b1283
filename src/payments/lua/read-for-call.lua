--[[
  Reads a payment and, only at the expected version, with no intent and a
  transactionReference Sips accepts, writes the intent of the call about to
  be sent with that reference.

  KEYS: 1 payment
  ARGV: 1 expected version, 2 updatedAt,
        3.. the intent's members in order, each a name and its JSON value;
        the member named transactionReference takes the stored reference
        (its value is not read)
  Returns {hash fields and values (flat)}, with the new version when the intent was written.
]]

local hash = redis.call('HGETALL', KEYS[1])
local version, intent, reference
for k = 1, #hash, 2 do
  local name = hash[k]
  if name == 'version' then version = hash[k + 1]
  elseif name == 'intent' then intent = hash[k + 1]
  elseif name == 'transactionReference' then reference = hash[k + 1] end
end
if version ~= ARGV[1] or intent or not reference or #reference > 35
    or not string.match(reference, '^[A-Za-z0-9]+$') then
  return {hash}
end
local members = {}
for k = 3, #ARGV, 2 do
  local value = ARGV[k + 1]
  if ARGV[k] == 'transactionReference' then value = '"' .. reference .. '"' end
  members[#members + 1] = '"' .. ARGV[k] .. '":' .. value
end
local next_version = tonumber(version) + 1
redis.call('HSET', KEYS[1], 'version', string.format('%d', next_version),
  'intent', '{' .. table.concat(members, ',') .. '}', 'updatedAt', ARGV[2])
return {hash, next_version}
