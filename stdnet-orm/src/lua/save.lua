-- Save (insert or update) a batch of instances atomically.
--
-- KEYS[1] = the id counter, KEYS[2] = the sorted set of all ids.
-- ARGV after the common header: the number of instances, then for each: its id
-- (0 for a new instance) and, per field of the header, a presence flag (1/0), the
-- stored value and the numeric score ('' for none). Fields not in the header are
-- left alone (a partial update).
--
-- Returns {'ok', id1, id2, ...}, or {'unique', field, value} without writing anything
-- if a unique value is taken (by another instance, or twice in the batch).

local counter = KEYS[1]
local count = tonumber(ARGV[argp]); argp = argp + 1
local batch = {}
for o = 1, count do
  local inst = { id = ARGV[argp], values = {}, scores = {} }
  argp = argp + 1
  for i = 1, nfields do
    if ARGV[argp] == '1' then inst.values[i] = ARGV[argp + 1] else inst.values[i] = false end
    inst.scores[i] = ARGV[argp + 2]
    argp = argp + 3
  end
  batch[o] = inst
end

-- 1. Every unique value is checked before anything is written.
for i = 1, nfields do
  if has(flags[i], 'u') then
    local seen = {}
    for o, inst in ipairs(batch) do
      local v = inst.values[i]
      if v then
        local owner = redis.call('HGET', uni_key(i), v)
        if (owner and owner ~= inst.id) or seen[v] then
          return { 'unique', names[i], v }
        end
        seen[v] = o
      end
    end
  end
end

-- 2. Ids: new instances take the next value of the counter; an explicit id moves the
-- counter past it, so later new instances never collide with it.
local top = tonumber(redis.call('GET', counter) or '0')
for _, inst in ipairs(batch) do
  if inst.id == '0' then
    inst.id = tostring(redis.call('INCR', counter))
    inst.new = true
  elseif tonumber(inst.id) > top then
    redis.call('SET', counter, inst.id)
    top = tonumber(inst.id)
  end
end

-- 3. Write each instance and move its index entries.
local result = { 'ok' }
for _, inst in ipairs(batch) do
  local id = inst.id
  local key = obj_key(id)
  -- A new id has no hash yet, so no old index entries to move.
  if not inst.new then unindex_stored(id, key) end
  local set, del = {}, {}
  for i = 1, nfields do
    local v = inst.values[i]
    if v then
      set[#set + 1] = names[i]
      set[#set + 1] = v
      if flags[i] ~= '' then index(i, id, v, inst.scores[i]) end
    else
      del[#del + 1] = names[i]
    end
  end
  if #del > 0 then redis.call('HDEL', key, unpack(del)) end
  if #set > 0 then
    redis.call('HSET', key, unpack(set))
  else
    -- An instance with no stored field still exists: keep an empty marker field.
    redis.call('HSET', key, '__pk', id)
  end
  redis.call('ZADD', KEYS[2], id, id)
  result[#result + 1] = id
end
return result
