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

-- The indexed fields' numbers, for reading old values before a change.
local indexed = {}
for i = 1, nfields do
  if flags[i] ~= '' then indexed[#indexed + 1] = i end
end

-- Removes the index entries of instance `id` for its stored values of every indexed
-- field in the header.
local function unindex_stored(id, key)
  if #indexed == 0 then return end
  local fields = {}
  for k, i in ipairs(indexed) do fields[k] = names[i] end
  local old = redis.call('HMGET', key, unpack(fields))
  for k, i in ipairs(indexed) do
    if old[k] then unindex(i, id, old[k]) end
  end
end

-- Deletes instance `id` (whose hash is `key`, if the caller has it) with every index
-- entry; returns 1 if it existed.
local function delete_instance(id, key)
  key = key or obj_key(id)
  if redis.call('EXISTS', key) == 0 then return 0 end
  unindex_stored(id, key)
  redis.call('DEL', key)
  redis.call('ZREM', ids_zset, id)
  return 1
end
