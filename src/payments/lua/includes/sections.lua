--[[
  ARGV from a script's first section on holds sections, each a count
  followed by count * width strings. section_reader(first) returns a reader
  of the next section: section(width) -> its strings (a list), its count.
]]
local function section_reader(first)
  local pos = first
  return function(width)
    local n = tonumber(ARGV[pos])
    pos = pos + 1
    local items = {}
    for k = 1, n * width do items[k] = ARGV[pos + k - 1] end
    pos = pos + n * width
    return items, n
  end
end
