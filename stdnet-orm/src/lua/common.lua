-- Shared by the save, delete and query scripts of stdnet-orm.
--
-- Equality lookups on a unique field use its value -> id hash; other indexed fields
-- have one set per value.
--
-- ARGV starts with the model's key prefix (its hash tag, e.g. `{ns.auth.user}`), its
-- label for error messages, and its field table: a count, then each field's name and
-- flags. Flags: `u` unique, `i` indexed, `n` numeric (sorted set by value), `t` text
-- (lexicographic sorted set for prefix lookups). Every key a script touches starts
-- with the prefix, so all of them live in one cluster slot.
--
-- Keys known before the script runs come in KEYS: KEYS[1] the sorted set of all ids,
-- KEYS[2] the id counter, then, for each field of the table in order, its unique
-- hash (flag `u`), its numeric sorted set (`n`) and its lexicographic sorted set
-- (`t`). Each script declares the keys of its own arguments after those, from
-- `keyp` on. Only keys that depend on what is stored (an old value's index set, the
-- hash of an id the script assigns or finds, a temporary result) are built here from
-- the prefix.

local prefix = ARGV[1]
local label = ARGV[2]
local nfields = tonumber(ARGV[3])
local names, flags = {}, {}
local argp = 4
for i = 1, nfields do
  names[i] = ARGV[argp]
  flags[i] = ARGV[argp + 1]
  argp = argp + 2
end

local function has(flag_string, f)
  return string.find(flag_string, f, 1, true) ~= nil
end

local ids_zset, counter = KEYS[1], KEYS[2]
local uni_keys, num_keys, lex_keys = {}, {}, {}
local keyp = 3
for i = 1, nfields do
  if has(flags[i], 'u') then uni_keys[i] = KEYS[keyp]; keyp = keyp + 1 end
  if has(flags[i], 'n') then num_keys[i] = KEYS[keyp]; keyp = keyp + 1 end
  if has(flags[i], 't') then lex_keys[i] = KEYS[keyp]; keyp = keyp + 1 end
end

local function obj_key(id) return prefix .. ':obj:' .. id end
local function idx_key(i, value) return prefix .. ':idx:' .. names[i] .. ':' .. value end
local function num_key(i) return num_keys[i] end
local function lex_key(i) return lex_keys[i] end
local function uni_key(i) return uni_keys[i] end

-- Removes the index entries of field i holding `value` for instance `id`.
local function unindex(i, id, value)
  local f = flags[i]
  if has(f, 'u') and redis.call('HGET', uni_key(i), value) == id then
    redis.call('HDEL', uni_key(i), value)
  end
  if has(f, 'i') then
    redis.call('SREM', idx_key(i, value), id)
  end
  if has(f, 'n') then redis.call('ZREM', num_key(i), id) end
  if has(f, 't') then redis.call('ZREM', lex_key(i), value .. '\0' .. id) end
end

-- The indexed fields' numbers and names (HMGET of the names reads an instance's old
-- values, in this order, before a change).
local indexed, indexed_names = {}, {}
for i = 1, nfields do
  if flags[i] ~= '' then
    indexed[#indexed + 1] = i
    indexed_names[#indexed_names + 1] = names[i]
  end
end

-- A {'corrupt', key, reason} reply if `key` holds a type other than `want` (a write
-- on it would fail, after earlier writes: Redis does not roll a script back), else
-- false. A key that does not exist is fine.
local function wrong_type(key, want)
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'none' and t ~= want then
    return { 'corrupt', key, 'holds a ' .. t .. ', the ORM writes a ' .. want .. ' there' }
  end
  return false
end

-- The first of the header's keys (the id set, the counter when `counter` is true,
-- the unique hashes, numeric and lexicographic sets) holding the wrong type, as a
-- corrupt reply, or false.
local function header_wrong_type(with_counter)
  local bad = wrong_type(ids_zset, 'zset') or (with_counter and wrong_type(counter, 'string'))
  if bad then return bad end
  for i = 1, nfields do
    bad = (uni_keys[i] and wrong_type(uni_keys[i], 'hash'))
      or (num_keys[i] and wrong_type(num_keys[i], 'zset'))
      or (lex_keys[i] and wrong_type(lex_keys[i], 'zset'))
    if bad then return bad end
  end
  return false
end

-- True if `key` is an instance hash whose field i holds `value`.
local function holds(key, i, value)
  return redis.call('TYPE', key).ok == 'hash' and redis.call('HGET', key, names[i]) == value
end

-- A glob pattern matching `text` literally (for SCAN MATCH).
local function glob_literal(text)
  return (string.gsub(text, '[%*%?%[%]\\]', '\\%0'))
end

-- Runs a SCAN-family command (`SCAN`, or `HSCAN`/`ZSCAN`/`SSCAN` with `key`) from
-- cursor 0 until it comes back to 0, handing each batch of the reply to `each`;
-- `extra` goes after the cursor.
local function scan_all(command, key, extra, each)
  local cursor = '0'
  repeat
    local reply
    if key then
      reply = redis.call(command, key, cursor, unpack(extra))
    else
      reply = redis.call(command, cursor, unpack(extra))
    end
    cursor = reply[1]
    each(reply[2])
  until cursor == '0'
end

-- Removes the entries of ghost `id` (listed, but its hash is gone) that are keyed by
-- value when the values are not known: it scans the model's unique hashes and
-- lexicographic sets, and the keyspace for the model's per-value index sets. The
-- cost is that of reading every such entry of the model and a SCAN of the whole
-- database, inside the script: the price of a ghost met without its values (a
-- `delete_matching` that finds one). `Db::repair` does the same in bounded steps.
local function forget_ghost_values(id)
  for i = 1, nfields do
    local f = flags[i]
    if has(f, 'u') then
      scan_all('HSCAN', uni_key(i), { 'COUNT', 1000 }, function(items)
        for k = 1, #items, 2 do
          if items[k + 1] == id then redis.call('HDEL', uni_key(i), items[k]) end
        end
      end)
    end
    if has(f, 't') then
      local suffix = '\0' .. id
      scan_all('ZSCAN', lex_key(i), { 'COUNT', 1000 }, function(items)
        for k = 1, #items, 2 do
          local m = items[k]
          if string.sub(m, -#suffix) == suffix then redis.call('ZREM', lex_key(i), m) end
        end
      end)
    end
    if has(f, 'i') then
      local pattern = glob_literal(prefix .. ':idx:' .. names[i] .. ':') .. '*'
      scan_all('SCAN', nil, { 'MATCH', pattern, 'COUNT', 1000, 'TYPE', 'set' }, function(found)
        for _, key in ipairs(found) do redis.call('SREM', key, id) end
      end)
    end
  end
end

-- The first equality set of an instance's old values (`old`: its values of the
-- indexed fields, as HMGET of indexed_names gives them) that holds the wrong type, as
-- a corrupt reply, or false. `seen` records the sets checked so far, so that each is
-- asked once per script.
local function old_sets_wrong_type(old, seen)
  for k, i in ipairs(indexed) do
    local v = old[k]
    if v and has(flags[i], 'i') then
      local set = idx_key(i, v)
      if not seen[set] then
        seen[set] = true
        local bad = wrong_type(set, 'set')
        if bad then return bad end
      end
    end
  end
  return false
end

-- The delete of instance `id` (whose hash is `key`, if the caller has it), checked
-- before anything is written: returns a plan for delete_instance, or a corrupt reply
-- when a key the delete writes holds the wrong type (the instance's key, the index
-- sets of its values; the header's keys are checked once with header_wrong_type).
-- `values` are the caller's values of the indexed fields (see delete_instance);
-- `seen` records the index sets checked so far, so each is asked once per script.
local function plan_delete(id, key, values, seen)
  key = key or obj_key(id)
  local t = redis.call('TYPE', key).ok
  local old
  if t == 'hash' then
    if #indexed > 0 then
      old = redis.call('HMGET', key, unpack(indexed_names))
    else
      old = {}
    end
  elseif t ~= 'none' then
    return nil, { 'corrupt', key, 'holds a ' .. t .. ', not an instance hash' }
  else
    old = values -- nil for a ghost without values: found by scanning, sets only
  end
  if old then
    local bad = old_sets_wrong_type(old, seen)
    if bad then return nil, bad end
  end
  return { id = id, key = key, exists = t == 'hash', old = old }
end

-- Carries out a delete planned by plan_delete (after every check of the script has
-- passed: nothing here can fail); returns 1 if the instance existed.
--
-- A ghost (an id whose hash is gone: deleted or expired outside the ORM) returns 0,
-- and its index entries go too. Entries keyed by id (the id set, numeric sets) are
-- removed directly. Entries keyed by value are removed from the values the caller
-- gave (`Db::delete` sends the object's); without them they are found by scanning
-- (see forget_ghost_values).
local function delete_instance(plan)
  local id, old = plan.id, plan.old
  if old then
    for k, i in ipairs(indexed) do
      if old[k] then unindex(i, id, old[k]) end
    end
  else
    forget_ghost_values(id)
  end
  for i = 1, nfields do
    if has(flags[i], 'n') then redis.call('ZREM', num_key(i), id) end
  end
  redis.call('ZREM', ids_zset, id)
  if plan.exists then
    redis.call('DEL', plan.key)
    return 1
  end
  return 0
end
