-- Writes one webhook endpoint with its indexes, atomically; every key is
-- under one hash tag (the first shard's).
--
-- KEYS: 1 endpoint record, 2 the merchant's endpoint set, 3 all endpoints
--       (sorted by creation), 4 the configuration version (readers' caches)
-- ARGV: 1 'create' | 'update' | 'delete', 2 endpoint id, 3 record JSON
--       (create, update), 4 expected version (update, delete), 5 most
--       endpoints per merchant (create), 6 creation time ms (create)
-- Returns 'ok', 'limit' (the merchant has the most endpoints allowed),
-- 'missing' or 'conflict' (another write came first).
local op = ARGV[1]
local id = ARGV[2]

if op == 'create' then
  if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[5]) then
    return 'limit'
  end
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return 'conflict'
  end
  redis.call('SET', KEYS[1], ARGV[3])
  redis.call('SADD', KEYS[2], id)
  redis.call('ZADD', KEYS[3], ARGV[6], id)
  redis.call('INCR', KEYS[4])
  return 'ok'
end

local current = redis.call('GET', KEYS[1])
if not current then
  return 'missing'
end
if tostring(cjson.decode(current).version) ~= ARGV[4] then
  return 'conflict'
end
if op == 'update' then
  redis.call('SET', KEYS[1], ARGV[3])
else
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], id)
  redis.call('ZREM', KEYS[3], id)
end
redis.call('INCR', KEYS[4])
return 'ok'
