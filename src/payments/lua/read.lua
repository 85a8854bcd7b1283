--[[
  Reads a payment and its timeline in one atomic step.

  KEYS: 1 payment, 2 timeline
  Returns {hash fields and values (flat), timeline entries}
]]

return {redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}
