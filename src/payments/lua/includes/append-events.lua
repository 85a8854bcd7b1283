--[[
  Appends n events to a shard's event stream, trimmed to about maxlen
  entries ('0': not trimmed). events holds n groups of (type, subject,
  sequence, JSON), as section(4) reads them.
]]
local function append_events(stream, maxlen, events, n)
  for e = 0, n - 1 do
    local b = e * 4
    if maxlen ~= '0' then
      redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'type', events[b + 1],
        'subject', events[b + 2], 'sequence', events[b + 3], 'event', events[b + 4])
    else
      redis.call('XADD', stream, '*', 'type', events[b + 1], 'subject', events[b + 2],
        'sequence', events[b + 3], 'event', events[b + 4])
    end
  end
end
