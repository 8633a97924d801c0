-- Save (insert or update) a batch of instances atomically.
--
-- KEYS from `keyp` on: the hash of each instance that has an id (in batch order),
-- then the index set of each distinct new value of an `i` field.
-- ARGV after the common header: the number of instances, '1' for a partial update
-- (an instance whose hash is gone is then an error, not an insert) or '0', the name of
-- the model's version field or '' for none, then for each instance:
--   id         0 for a new instance; '' for a new instance with a value for every
--              field of the header, which then leaves out `hash`, `n`, `mask` and
--              `version` (the common case of an insert: one slot instead of four)
--   hash       KEYS position of its hash; 0 for a new instance
--   n          how many fields of the header it has values for
--   mask       '' if it has all of them, else one '1' (value) or '0' (none) per field
--   version    only with a version field: the version the stored one must equal
--              (0: no hash, or no version stored)
--   n pairs    field name, stored value, in header order (they go to HSET as they are),
--              then, with a version field, its name and the version to store
--   scores     one per `n` field of the header: the numeric score, '' for none
--   sets       one per `i` field of the header: KEYS position of its value's index
--              set, 0 for none
-- Fields not in the header are left alone (a partial update); header fields without
-- a value are removed from the hash.
--
-- Returns {'ok', first}: the new instances took the ids first, first + 1, ... in batch
-- order (first is 0 if there was none; the others keep theirs), so the reply does not
-- grow with the batch. Or, without writing anything:
--   {'unique', field, value}   a unique value is taken (by another instance whose hash
--                              exists, or twice in the batch)
--   {'missing', id}            a partial update of an instance whose hash is gone
--   {'conflict', id}           the stored version is not the instance's
--   {'exhausted'}              no id up to 2^53 - 1 is left for the new instances
--   {'corrupt', key, reason}   a key to be written holds the wrong type, the counter is
--                              not a number, a new id's hash exists
--   {'badarg', what, value}    an id or score no client of this crate sends
--
-- Redis does not roll a script back, so every check (key types, unique values,
-- versions, ids, scores) runs before the first write, and no write after it can fail.
-- Checks cost one TYPE per distinct key the batch writes (header keys and index sets
-- once per batch), one EXISTS argument per new id, one TYPE (and the HMGET the update
-- needs anyway) per instance that has an id.
--
-- The instance table is read in place from ARGV (positions, not copies), and each
-- instance's hash is written with one HSET straight from its slice of ARGV: the
-- script's own work per instance is what bounds bulk inserts.

local count = tonumber(ARGV[argp])
local partial = ARGV[argp + 1] == '1'
local vfield = ARGV[argp + 2]
argp = argp + 3
-- With a version field every instance stores one pair more than its header fields.
local vpair = 0
if vfield ~= '' then vpair = 1 end
-- Ids stay exact in Lua's doubles up to 2^53 - 1 (`stdnet_orm::MAX_ID`).
local MAX_ID = 9007199254740991

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

-- Per instance: its id, the ARGV positions of its parts, its mask and the version
-- it expects; and how many instances came with the KEYS position of their hash.
local ids, hashes, npairs, masks, pairs_at, scores_at, expected = {}, {}, {}, {}, {}, {}, {}
local full = 2 * (nfields + vpair) + nnum + nset
local nhashes = 0
for o = 1, count do
  local id = ARGV[argp]
  if id == '' then
    ids[o], hashes[o], npairs[o], masks[o] = '0', 0, nfields, ''
    pairs_at[o] = argp + 1
    scores_at[o] = argp + 1 + 2 * (nfields + vpair)
    argp = argp + 1 + full
  else
    ids[o] = id
    hashes[o] = tonumber(ARGV[argp + 1])
    if hashes[o] ~= 0 then nhashes = nhashes + 1 end
    local n = tonumber(ARGV[argp + 2])
    npairs[o] = n
    masks[o] = ARGV[argp + 3]
    local at = argp + 4
    if vpair == 1 then expected[o] = ARGV[at]; at = at + 1 end
    pairs_at[o] = at
    scores_at[o] = at + 2 * (n + vpair)
    argp = at + 2 * (n + vpair) + nnum + nset
  end
end

-- 0. Every key the batch writes has the type the ORM gives it (or does not exist):
-- a write on a key of another type fails, and would fail after earlier writes.
local bad = header_wrong_type(true)
if bad then return bad end

-- The first of `keys` (from `from` to `to`) that is not a set, or false. One
-- SINTERCARD checks the type of every key it is given before it looks at members
-- (Redis 7.0); given a key known not to exist (`missing`) it stops right there, so it
-- costs a key lookup per set instead of a TYPE call. Only if it fails (or with no
-- missing key to give it) is each key asked on its own.
local function first_not_set(keys, from, to, missing)
  for s = from, to, 5000 do
    local e = math.min(s + 4999, to)
    if not missing
      or type(redis.pcall('SINTERCARD', e - s + 2, missing, unpack(keys, s, e))) ~= 'number' then
      for k = s, e do
        local found = wrong_type(keys[k], 'set')
        if found then return found end
      end
    end
  end
  return false
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
        -- An owner whose hash is gone (deleted outside the ORM) holds nothing: the
        -- value is free, and its entry is overwritten below.
        if (owner and owner ~= ids[of[k]] and redis.call('EXISTS', obj_key(owner)) == 1)
          or seen[v] then
          return { 'unique', names[i], v }
        end
        seen[v] = true
      end
    end
  end
end

-- 2. Instances that have an id: their hash's type, existence and version, and the
-- stored values of their indexed fields (read now, as the index entries they are
-- moved out of must be checked before anything is written).
local read_fields = { unpack(indexed_names) }
local nread = #read_fields
if vpair == 1 then read_fields[nread + 1] = vfield end
local olds, checked, ghosts = {}, {}, {}
for o = 1, count do
  local h = hashes[o]
  if h ~= 0 then
    local key, id = KEYS[h], ids[o]
    local t = redis.call('TYPE', key)['ok']
    if t == 'none' then
      -- A full save with an explicit id inserts it; a partial one needs the instance.
      if partial then return { 'missing', id } end
      if vpair == 1 and expected[o] ~= '0' then return { 'conflict', id } end
      -- A listed id without a hash is a ghost (its hash was removed outside the
      -- ORM): its index entries are forgotten before the new instance takes the id,
      -- or they would match it. Rare, and costly: a scan (see forget_ghost_values).
      if redis.call('ZSCORE', ids_zset, id) then ghosts[o] = true end
    elseif t ~= 'hash' then
      return { 'corrupt', key, 'holds a ' .. t .. ', not an instance hash' }
    elseif #read_fields > 0 then
      local old = redis.call('HMGET', key, unpack(read_fields))
      if vpair == 1 and (old[nread + 1] or '0') ~= expected[o] then
        return { 'conflict', id }
      end
      olds[o] = old
      bad = old_sets_wrong_type(old, checked)
      if bad then return bad end
    end
  end
end

-- 3. Ids: new instances take the ids after the largest of the counter, the largest
-- listed id (a counter deleted by hand never hands out a listed id again) and the
-- batch's explicit ids (an explicit id moves the counter past it, so later new
-- instances never collide with it). All below 2^53, where doubles count exactly.
local stored = redis.call('GET', counter)
local top = 0
if stored then
  if not string.match(stored, '^%d+$') then
    return { 'corrupt', counter, 'holds ' .. string.format('%q', stored) .. ', not an id' }
  end
  top = tonumber(stored)
end
local counted = top
local last = redis.call('ZRANGE', ids_zset, -1, -1, 'WITHSCORES')[2]
if last and tonumber(last) > top then top = tonumber(last) end
local fresh = 0
for o = 1, count do
  -- ZADD refuses NaN, the one score the client's number formatting can produce that
  -- is not a number; the client refuses it before sending (a string compare here, as
  -- parsing every score would cost more than the rest of the checks together).
  local sc = scores_at[o]
  for k = sc, sc + nnum - 1 do
    if ARGV[k] == 'nan' then return { 'badarg', 'score', 'nan' } end
  end
  local id = ids[o]
  if id == '0' then
    fresh = fresh + 1
  else
    local x = tonumber(id)
    if not (string.match(id, '^[1-9]%d*$') and x <= MAX_ID) then
      return { 'badarg', 'id', id }
    end
    if x > top then top = x end
  end
end
if fresh > 0 and top + fresh > MAX_ID then return { 'exhausted' } end
-- The hashes of the new ids must not exist: the id set lists every instance the ORM
-- saved, but a hash may be left over from outside it (or planted).
local is_new, new_keys, nnew = {}, {}, 0
local first = 0
if fresh > 0 then
  local next_id = top
  first = next_id + 1
  for o = 1, count do
    if ids[o] == '0' then
      next_id = next_id + 1
      local id = string.format('%d', next_id)
      ids[o] = id
      is_new[o] = obj_key(id)
      nnew = nnew + 1
      new_keys[nnew] = is_new[o]
    end
  end
  top = next_id
  for s = 1, nnew, 6000 do
    local e = math.min(s + 5999, nnew)
    if redis.call('EXISTS', unpack(new_keys, s, e)) > 0 then
      for k = s, e do
        if redis.call('EXISTS', new_keys[k]) == 1 then
          return { 'corrupt', new_keys[k], 'exists, but its id is a new one (the id counter is behind the stored data)' }
        end
      end
    end
  end
end

-- The index sets of the new values: the KEYS after the instances' hashes. A new id's
-- hash was just seen not to exist.
bad = first_not_set(KEYS, keyp + nhashes, #KEYS, new_keys[1])
if bad then return bad end

-- Checks done: from here on nothing can fail.
if top > counted then redis.call('SET', counter, string.format('%d', top)) end

-- 4. Write each hash, moving old index entries out; collect the new entries so that
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
  local key = is_new[o]
  if not key then
    key = KEYS[hashes[o]]
    local old = olds[o]
    if old then
      for k, i in ipairs(indexed) do
        if old[k] then unindex(i, id, old[k]) end
      end
    elseif ghosts[o] then
      forget_ghost_values(id)
      for i = 1, nfields do
        if is_num[i] then redis.call('ZREM', num_key(i), id) end
      end
    end
  end
  local mask = masks[o]
  if mask ~= '' then
    local del = {}
    for i = 1, nfields do
      if string.byte(mask, i) ~= 49 then del[#del + 1] = names[i] end
    end
    if #del > 0 then redis.call('HDEL', key, unpack(del)) end
  end
  local n = npairs[o] + vpair
  local at = pairs_at[o]
  if n > 0 then
    redis.call('HSET', key, unpack(ARGV, at, at + 2 * n - 1))
  elseif redis.call('EXISTS', key) == 0 then
    -- An instance with no stored field still exists: keep an empty marker field
    -- (only when the hash would otherwise be gone: an update of no fields leaves an
    -- existing hash as it is).
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
