--[[
  Appends one event for each (type, JSON) pair of ARGV from `first` on to
  the shard's event stream, trimmed to about maxlen entries.
]]
local function append_record_events(stream, maxlen, subject, sequence, first)
  for k = first, #ARGV, 2 do
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'type', ARGV[k], 'subject', subject,
      'sequence', sequence, 'event', ARGV[k + 1])
  end
end
