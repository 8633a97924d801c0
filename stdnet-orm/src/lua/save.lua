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

-- What each field's flags ask for, decoded once; `numord`/`setord` number the `n`
-- and `i` fields of the header, which is where their slots are in each instance.
local is_unique, is_set, is_num, is_lex = {}, {}, {}, {}
local numord, setord = {}, {}
local nnum, nset = 0, 0
local indexed_fields = {}
for i = 1, nfields do
  local f = flags[i]
  is_unique[i] = has(f, 'u')
  is_set[i] = has(f, 'i')
  is_num[i] = has(f, 'n')
  is_lex[i] = has(f, 't')
  if is_num[i] then nnum = nnum + 1; numord[i] = nnum end
  if is_set[i] then nset = nset + 1; setord[i] = nset end
  if f ~= '' then indexed_fields[#indexed_fields + 1] = i end
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
    local values, of = {}, {}
    for o = 1, count do
      local v = value_of(o, i)
      if v then
        values[#values + 1] = v
        of[#of + 1] = o
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
-- each index key gets one command for the whole batch. Every list keeps its length
-- beside it: `#t` on a growing table is a binary search, and this loop runs per field
-- per instance.
-- Per indexed field, the lists it adds to (false if none) and their lengths.
local uni_of, num_of, lex_of = {}, {}, {}
local uni_len, num_len, lex_len = {}, {}, {}
for _, i in ipairs(indexed_fields) do
  uni_of[i] = is_unique[i] and {}; uni_len[i] = 0
  num_of[i] = is_num[i] and {}; num_len[i] = 0
  lex_of[i] = is_lex[i] and {}; lex_len[i] = 0
end
local sets, set_lens = {}, {}
local all_ids, nids = {}, 0
local nindexed = #indexed_fields
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
  local sc = scores_at[o]
  for k = 1, nindexed do
    local i = indexed_fields[k]
    local v
    if mask == '' then v = ARGV[at + 2 * i - 1] else v = value_of(o, i) end
    if v then
      if is_set[i] then
        local kp = ARGV[sc + nnum + setord[i] - 1]
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
      local t = uni_of[i]
      if t then
        local m = uni_len[i]
        t[m + 1] = v; t[m + 2] = id
        uni_len[i] = m + 2
      end
      t = num_of[i]
      if t then
        local score = ARGV[sc + numord[i] - 1]
        if score ~= '' then
          local m = num_len[i]
          t[m + 1] = score; t[m + 2] = id
          num_len[i] = m + 2
        end
      end
      t = lex_of[i]
      if t then
        local m = lex_len[i]
        t[m + 1] = '0'; t[m + 2] = v .. '\0' .. id
        lex_len[i] = m + 2
      end
    end
  end
  all_ids[nids + 1] = id
  all_ids[nids + 2] = id
  nids = nids + 2
end
for kp, members in pairs(sets) do chunked('SADD', KEYS[tonumber(kp)], members) end
for _, i in ipairs(indexed_fields) do
  if uni_of[i] then chunked('HSET', uni_key(i), uni_of[i]) end
  if num_of[i] then chunked('ZADD', num_key(i), num_of[i]) end
  if lex_of[i] then chunked('ZADD', lex_key(i), lex_of[i]) end
end
chunked('ZADD', ids_zset, all_ids)
return { 'ok', first }
