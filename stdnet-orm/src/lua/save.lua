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

-- What each field's flags ask for, decoded once.
local is_unique, is_set, is_num, is_lex = {}, {}, {}, {}
for i = 1, nfields do
  local f = flags[i]
  is_unique[i] = has(f, 'u')
  is_set[i] = has(f, 'i')
  is_num[i] = has(f, 'n')
  is_lex[i] = has(f, 't')
end

-- Sends `args` to `command` in slices, as unpack() has a limit on values.
local function chunked(command, key, args)
  for s = 1, #args, 6000 do
    redis.call(command, key, unpack(args, s, math.min(s + 5999, #args)))
  end
end

-- 1. Every unique value is checked before anything is written: one HMGET per unique
-- field for the whole batch.
for i = 1, nfields do
  if is_unique[i] then
    local values, owners_of = {}, {}
    for _, inst in ipairs(batch) do
      if inst.values[i] then values[#values + 1] = inst.values[i] end
    end
    if #values > 0 then
      local owners = {}
      for s = 1, #values, 6000 do
        local part = redis.call('HMGET', uni_key(i), unpack(values, s, math.min(s + 5999, #values)))
        for k, owner in ipairs(part) do owners[s + k - 1] = owner end
      end
      for k, v in ipairs(values) do owners_of[v] = owners[k] end
    end
    local seen = {}
    for _, inst in ipairs(batch) do
      local v = inst.values[i]
      if v then
        local owner = owners_of[v]
        if (owner and owner ~= inst.id) or seen[v] then
          return { 'unique', names[i], v }
        end
        seen[v] = true
      end
    end
  end
end

-- 2. Ids: new instances take the next values of the counter (one INCRBY for the
-- batch); an explicit id moves the counter past it, so later new instances never
-- collide with it.
local top = tonumber(redis.call('GET', counter) or '0')
local fresh = 0
for _, inst in ipairs(batch) do
  if inst.id == '0' then
    fresh = fresh + 1
  elseif tonumber(inst.id) > top then
    top = tonumber(inst.id)
    redis.call('SET', counter, inst.id)
  end
end
if fresh > 0 then
  local next_id = redis.call('INCRBY', counter, fresh) - fresh
  for _, inst in ipairs(batch) do
    if inst.id == '0' then
      next_id = next_id + 1
      inst.id = tostring(next_id)
      inst.new = true
    end
  end
end

-- 3. Write each hash, moving old index entries out; collect the new entries so that
-- each index key gets one command for the whole batch.
local sets, nums, lexes, unis = {}, {}, {}, {}
local all_ids = {}
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
      if is_set[i] then
        local k = idx_key(i, v)
        local members = sets[k]
        if not members then members = {}; sets[k] = members end
        members[#members + 1] = id
      end
      if is_unique[i] then
        local pairs_ = unis[i] or {}
        unis[i] = pairs_
        pairs_[#pairs_ + 1] = v
        pairs_[#pairs_ + 1] = id
      end
      if is_num[i] and inst.scores[i] ~= '' then
        local entries = nums[i] or {}
        nums[i] = entries
        entries[#entries + 1] = inst.scores[i]
        entries[#entries + 1] = id
      end
      if is_lex[i] then
        local entries = lexes[i] or {}
        lexes[i] = entries
        entries[#entries + 1] = 0
        entries[#entries + 1] = v .. '\0' .. id
      end
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
  all_ids[#all_ids + 1] = id
  all_ids[#all_ids + 1] = id
  result[#result + 1] = id
end
for k, members in pairs(sets) do chunked('SADD', k, members) end
for i, entries in pairs(unis) do chunked('HSET', uni_key(i), entries) end
for i, entries in pairs(nums) do chunked('ZADD', num_key(i), entries) end
for i, entries in pairs(lexes) do chunked('ZADD', lex_key(i), entries) end
chunked('ZADD', KEYS[2], all_ids)
return result
