-- Save (insert or update) a batch of instances atomically.
--
-- KEYS from `keyp` on: the hash of each instance that has an id (in batch order),
-- then the index set of each distinct new value of an `i` field.
-- ARGV after the common header: the number of instances, then for each:
--   id         0 for a new instance; '' for a new instance with a value for every
--              field of the header, which then leaves out `hash`, `n` and `mask`
--              (the common case of an insert: one slot instead of four)
--   hash       KEYS position of its hash; 0 for a new instance
--   n          how many fields of the header it has values for
--   mask       '' if it has all of them, else one '1' (value) or '0' (none) per field
--   n pairs    field name, stored value, in header order (they go to HSET as they are)
--   scores     one per `n` field of the header: the numeric score, '' for none
--   sets       one per `i` field of the header: KEYS position of its value's index
--              set, 0 for none
-- Fields not in the header are left alone (a partial update); header fields without
-- a value are removed from the hash.
--
-- Returns {'ok', first}: the new instances took the ids first, first + 1, ... in batch
-- order (first is 0 if there was none; the others keep theirs), so the reply does not
-- grow with the batch. Or {'unique', field, value}, without writing anything, if a
-- unique value is taken (by another instance, or twice in the batch).
--
-- The instance table is read in place from ARGV (positions, not copies), and each
-- instance's hash is written with one HSET straight from its slice of ARGV: the
-- script's own work per instance is what bounds bulk inserts.

local count = tonumber(ARGV[argp]); argp = argp + 1

-- What each field's flags ask for, decoded once. Each instance has one score slot per
-- `n` field and one set slot per `i` field of the header, in header order.
local is_unique, is_num, is_lex = {}, {}, {}
local nnum, nset = 0, 0
for i = 1, nfields do
  local f = flags[i]
  is_unique[i] = has(f, 'u')
  is_num[i] = has(f, 'n')
  is_lex[i] = has(f, 't')
  if is_num[i] then nnum = nnum + 1 end
  if has(f, 'i') then nset = nset + 1 end
end

-- Per instance: its id, the ARGV positions of its parts, and its mask.
local ids, hashes, npairs, masks, pairs_at, scores_at = {}, {}, {}, {}, {}, {}
local full = 2 * nfields + nnum + nset
for o = 1, count do
  local id = ARGV[argp]
  if id == '' then
    ids[o], hashes[o], npairs[o], masks[o] = '0', 0, nfields, ''
    pairs_at[o] = argp + 1
    scores_at[o] = argp + 1 + 2 * nfields
    argp = argp + 1 + full
  else
    ids[o] = id
    hashes[o] = tonumber(ARGV[argp + 1])
    local n = tonumber(ARGV[argp + 2])
    npairs[o] = n
    masks[o] = ARGV[argp + 3]
    pairs_at[o] = argp + 4
    scores_at[o] = argp + 4 + 2 * n
    argp = argp + 4 + 2 * n + nnum + nset
  end
end

-- The stored value of field i of instance o, or false.
local function value_of(o, i)
  local mask = masks[o]
  if mask == '' then return ARGV[pairs_at[o] + 2 * i - 1] end
  if string.byte(mask, i) ~= 49 then return false end -- '1'
  local rank = 0
  for k = 1, i do
    if string.byte(mask, k) == 49 then rank = rank + 1 end
  end
  return ARGV[pairs_at[o] + 2 * rank - 1]
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
    local values, of, nv = {}, {}, 0
    for o = 1, count do
      local v
      if masks[o] == '' then v = ARGV[pairs_at[o] + 2 * i - 1] else v = value_of(o, i) end
      if v then
        nv = nv + 1
        values[nv] = v
        of[nv] = o
      end
    end
    local seen = {}
    for s = 1, #values, 6000 do
      local e = math.min(s + 5999, #values)
      local owners = redis.call('HMGET', uni_key(i), unpack(values, s, e))
      for k = s, e do
        local v, owner = values[k], owners[k - s + 1]
        if (owner and owner ~= ids[of[k]]) or seen[v] then
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
local is_new = {}
for o = 1, count do
  local id = ids[o]
  if id == '0' then
    fresh = fresh + 1
  elseif tonumber(id) > top then
    top = tonumber(id)
    redis.call('SET', counter, id)
  end
end
local first = 0
if fresh > 0 then
  local next_id = redis.call('INCRBY', counter, fresh) - fresh
  first = next_id + 1
  for o = 1, count do
    if ids[o] == '0' then
      next_id = next_id + 1
      ids[o] = string.format('%d', next_id)
      is_new[o] = true
    end
  end
end

-- 3. Write each hash, moving old index entries out; collect the new entries so that
-- each index key gets one command for the whole batch. This loop runs per instance, so
-- it does only what each kind of index needs: the fields come grouped by kind, set and
-- score slots are read without looking at the value, and every list keeps its length
-- beside it (`#t` on a growing table is a binary search).
local function fields_with(flag)
  local list = {}
  for i = 1, nfields do
    if flag[i] then list[#list + 1] = i end
  end
  return list
end
local uni_fields, num_fields, lex_fields = fields_with(is_unique), fields_with(is_num), fields_with(is_lex)
local nuni, nlex = #uni_fields, #lex_fields
-- One list per unique, number and text field (in the order above), and its length.
local function lists(n)
  local t, lens = {}, {}
  for k = 1, n do t[k] = {}; lens[k] = 0 end
  return t, lens
end
local uni_lists, uni_lens = lists(nuni)
local num_lists, num_lens = lists(nnum)
local lex_lists, lex_lens = lists(nlex)
local sets, set_lens = {}, {}
local all_ids, nids = {}, 0
for o = 1, count do
  local id = ids[o]
  local key
  if is_new[o] then
    -- A new id has no hash yet, so no old index entries to move.
    key = obj_key(id)
  else
    key = KEYS[hashes[o]]
    unindex_stored(id, key)
  end
  local mask = masks[o]
  if mask ~= '' then
    local del = {}
    for i = 1, nfields do
      if string.byte(mask, i) ~= 49 then del[#del + 1] = names[i] end
    end
    if #del > 0 then redis.call('HDEL', key, unpack(del)) end
  end
  local n = npairs[o]
  local at = pairs_at[o]
  if n > 0 then
    redis.call('HSET', key, unpack(ARGV, at, at + 2 * n - 1))
  else
    -- An instance with no stored field still exists: keep an empty marker field.
    redis.call('HSET', key, '__pk', id)
  end
  -- Scores first, then set positions ('0' for no value), one slot per field.
  local sc = scores_at[o]
  for k = 1, nnum do
    local score = ARGV[sc + k - 1]
    if score ~= '' then
      local t, m = num_lists[k], num_lens[k]
      t[m + 1] = score; t[m + 2] = id
      num_lens[k] = m + 2
    end
  end
  local sp = sc + nnum - 1
  for k = 1, nset do
    local kp = ARGV[sp + k]
    if kp ~= '0' then
      local members = sets[kp]
      if members then
        local m = set_lens[kp] + 1
        members[m] = id
        set_lens[kp] = m
      else
        sets[kp] = { id }
        set_lens[kp] = 1
      end
    end
  end
  -- The value lookups below are value_of(o, i) with its common case inlined: a
  -- function call per field per instance costs more than the lookup itself.
  for k = 1, nuni do
    local i = uni_fields[k]
    local v
    if mask == '' then v = ARGV[at + 2 * i - 1] else v = value_of(o, i) end
    if v then
      local t, m = uni_lists[k], uni_lens[k]
      t[m + 1] = v; t[m + 2] = id
      uni_lens[k] = m + 2
    end
  end
  for k = 1, nlex do
    local i = lex_fields[k]
    local v
    if mask == '' then v = ARGV[at + 2 * i - 1] else v = value_of(o, i) end
    if v then
      local t, m = lex_lists[k], lex_lens[k]
      t[m + 1] = '0'; t[m + 2] = v .. '\0' .. id
      lex_lens[k] = m + 2
    end
  end
  all_ids[nids + 1] = id
  all_ids[nids + 2] = id
  nids = nids + 2
end
for kp, members in pairs(sets) do chunked('SADD', KEYS[tonumber(kp)], members) end
for k = 1, nuni do chunked('HSET', uni_key(uni_fields[k]), uni_lists[k]) end
for k = 1, nnum do chunked('ZADD', num_key(num_fields[k]), num_lists[k]) end
for k = 1, nlex do chunked('ZADD', lex_key(lex_fields[k]), lex_lists[k]) end
chunked('ZADD', ids_zset, all_ids)
return { 'ok', first }
