-- One bounded step of `Db::repair`: checks a batch of instances or index entries
-- against the hashes, and fixes what does not match. Each step reads and writes at
-- most a batch's worth of entries, so Redis is never blocked for long; between
-- steps writers run, and every fix is checked against the hashes as they are when
-- the step runs (never against what the client read before), so a step never
-- undoes a writer's work.
--
-- ARGV after the common header: a mode, then its batch. `pos` is a KEYS position
-- (0: the member names no valid id, so it is an entry to drop).
--   hashes <n> (<id> <pos> <mask> <per present indexed field: value [score] [set pos]>)...
--          instances as the client read them: `mask` has one '1' (value) or '0' (none)
--          per indexed field of the header; `score` (numeric fields: '' for none)
--          and the index set's position (`i` fields) follow each value. An instance
--          whose hash no longer holds exactly these values has been changed by a
--          writer since the read (which indexed it) and is counted, not touched.
--          Otherwise every missing entry is added: the id in the id set (and the id
--          counter moved past it), equality sets, numeric scores, prefix members,
--          unique hash entries (a value held by another live instance is a clash,
--          reported and left; one whose owner no longer holds it is taken over).
--   ids <n> (<id> <pos>)...             the id set: drop ids whose hash is gone
--   num <field#> <n> (<id> <pos>)...     a numeric set: drop ids without a value
--   lex <field#> <n> (<member> <pos>)... a prefix set: drop members the hash disowns
--   uni <field#> <n> (<value> <id> <pos>)...  a unique hash: drop disowned entries
--   idx <field#> <set pos> <value> <n> (<id> <pos>)...  an equality set: the same
--
-- Every input is read and checked, and every key the step writes has its type
-- checked, before the first write. Returns the counts of what it fixed:
-- {ghosts removed, ids added, counter moved (0/1), instances changed meanwhile,
--  {added per field}, {removed per field}, {clashes: field#, value, owner, other ...}}.

local mode = ARGV[argp]
local function fail(what)
  return redis.error_reply('ERR stdnet repair ' .. tostring(mode) .. ': ' .. what)
end
local function number_at(p)
  local n = tonumber(ARGV[p])
  if n == nil or n < 0 or n % 1 ~= 0 then return nil end
  return n
end
local function key_at(p)
  local k = number_at(p)
  if k == nil or (k ~= 0 and KEYS[k] == nil) then return nil end
  return k
end
-- A field number of the header whose flags contain `flag`.
local function field_at(p, flag)
  local i = number_at(p)
  if i == nil or i < 1 or i > nfields or not has(flags[i], flag) then return nil end
  return i
end

-- Keys this step writes, with the type each must have (or none).
local writes = {}
local function will_write(key, kind) writes[#writes + 1] = { key, kind } end

local ghosts, ids_added, raised, changed = 0, 0, 0, 0
local added, removed, clashes = {}, {}, {}
for i = 1, nfields do added[i] = 0; removed[i] = 0 end

-- Decimal id strings compared as numbers (ids pass 2^53, where doubles are inexact).
local function id_greater(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end

-- 1. Read and check the batch.
local p = argp + 1
local field, set_key, set_value
if mode == 'num' or mode == 'lex' or mode == 'uni' or mode == 'idx' then
  local flag = ({ num = 'n', lex = 't', uni = 'u', idx = 'i' })[mode]
  field = field_at(p, flag)
  if not field then return fail('bad field number ' .. tostring(ARGV[p])) end
  p = p + 1
  if mode == 'idx' then
    local sp = key_at(p)
    if not sp or sp == 0 then return fail('bad set position') end
    set_key, set_value = KEYS[sp], ARGV[p + 1]
    if set_value == nil then return fail('missing value') end
    will_write(set_key, 'set')
    p = p + 2
  elseif mode == 'num' then will_write(num_key(field), 'zset')
  elseif mode == 'lex' then will_write(lex_key(field), 'zset')
  else will_write(uni_key(field), 'hash') end
elseif mode == 'ids' then
  will_write(ids_zset, 'zset')
elseif mode == 'hashes' then
  will_write(ids_zset, 'zset')
  will_write(counter, 'string')
  for _, i in ipairs(indexed) do
    if has(flags[i], 'u') then will_write(uni_key(i), 'hash') end
    if has(flags[i], 'n') then will_write(num_key(i), 'zset') end
    if has(flags[i], 't') then will_write(lex_key(i), 'zset') end
  end
else
  return fail('unknown mode')
end
local count = number_at(p)
if not count then return fail('bad count') end
p = p + 1

local items = {}
for o = 1, count do
  local item = { ARGV[p] }
  if item[1] == nil then return fail('batch shorter than its count') end
  if mode == 'hashes' then
    local pos, mask = key_at(p + 1), ARGV[p + 2]
    if not pos or pos == 0 then return fail('bad hash position for ' .. item[1]) end
    if not string.match(item[1], '^[1-9]%d*$') then return fail('bad id ' .. item[1]) end
    if mask == nil or #mask ~= #indexed or string.find(mask, '[^01]') then
      return fail('bad mask for ' .. item[1])
    end
    p = p + 3
    local values, scores, sets = {}, {}, {}
    for k, i in ipairs(indexed) do
      values[k] = false
      if string.byte(mask, k) == 49 then
        values[k] = ARGV[p]
        p = p + 1
        if has(flags[i], 'n') then
          scores[k] = ARGV[p]
          if scores[k] ~= '' and tonumber(scores[k]) == nil then
            return fail('bad score ' .. tostring(scores[k]) .. ' for ' .. item[1])
          end
          p = p + 1
        end
        if has(flags[i], 'i') then
          local sp = key_at(p)
          if not sp or sp == 0 then return fail('bad set position for ' .. item[1]) end
          sets[k] = KEYS[sp]
          will_write(sets[k], 'set')
          p = p + 1
        end
        if values[k] == nil then return fail('batch shorter than its count') end
      end
    end
    item[2], item[3], item[4], item[5] = KEYS[pos], values, scores, sets
  else
    local at = p + 1
    if mode == 'uni' then item[3] = ARGV[p + 1]; at = p + 2 end
    local pos = key_at(at)
    if not pos or (mode == 'uni' and item[3] == nil) then
      return fail('bad hash position in the batch')
    end
    if pos ~= 0 then item[2] = KEYS[pos] else item[2] = false end
    p = at + 1
  end
  items[o] = item
end
if p <= #ARGV then return fail('batch longer than its count') end
for _, w in ipairs(writes) do
  local kind = redis.call('TYPE', w[1]).ok
  if kind ~= 'none' and kind ~= w[2] then
    return fail('key ' .. w[1] .. ' is a ' .. kind .. ', not a ' .. w[2])
  end
end

-- 2. Fix.
if mode == 'hashes' then
  for _, item in ipairs(items) do
    local id, key, values, scores, sets = item[1], item[2], item[3], item[4], item[5]
    local same = redis.call('TYPE', key).ok == 'hash'
    if same and #indexed_names > 0 then
      local now = redis.call('HMGET', key, unpack(indexed_names))
      for k = 1, #indexed_names do
        if (now[k] or false) ~= values[k] then same = false end
      end
    end
    if not same then
      changed = changed + 1
    else
      ids_added = ids_added + redis.call('ZADD', ids_zset, id, id)
      if id_greater(id, redis.call('GET', counter) or '0') then
        redis.call('SET', counter, id)
        raised = 1
      end
      for k, i in ipairs(indexed) do
        local v = values[k]
        if v then
          local f = flags[i]
          if has(f, 'i') then added[i] = added[i] + redis.call('SADD', sets[k], id) end
          if has(f, 'n') and scores[k] ~= '' then
            local had = redis.call('ZSCORE', num_key(i), id)
            if redis.call('ZADD', num_key(i), 'CH', scores[k], id) == 1 then
              added[i] = added[i] + 1
              if had then removed[i] = removed[i] + 1 end
            end
          end
          if has(f, 't') then
            added[i] = added[i] + redis.call('ZADD', lex_key(i), 0, v .. '\0' .. id)
          end
          if has(f, 'u') then
            local owner = redis.call('HGET', uni_key(i), v)
            if owner ~= id then
              if owner and holds(obj_key(owner), i, v) then
                clashes[#clashes + 1] = tostring(i)
                clashes[#clashes + 1] = v
                clashes[#clashes + 1] = owner
                clashes[#clashes + 1] = id
              else
                if owner then removed[i] = removed[i] + 1 end
                redis.call('HSET', uni_key(i), v, id)
                added[i] = added[i] + 1
              end
            end
          end
        end
      end
    end
  end
elseif mode == 'ids' then
  for _, item in ipairs(items) do
    if not item[2] or redis.call('EXISTS', item[2]) == 0 then
      ghosts = ghosts + redis.call('ZREM', ids_zset, item[1])
    end
  end
elseif mode == 'num' then
  for _, item in ipairs(items) do
    local key = item[2]
    if not key or redis.call('TYPE', key).ok ~= 'hash'
        or redis.call('HEXISTS', key, names[field]) == 0 then
      removed[field] = removed[field] + redis.call('ZREM', num_key(field), item[1])
    end
  end
elseif mode == 'lex' then
  for _, item in ipairs(items) do
    local member, key = item[1], item[2]
    local value = string.match(member, '^(.*)%z%d+$')
    if not key or not value or not holds(key, field, value) then
      removed[field] = removed[field] + redis.call('ZREM', lex_key(field), member)
    end
  end
elseif mode == 'uni' then
  for _, item in ipairs(items) do
    local value, key, owner = item[1], item[2], item[3]
    if redis.call('HGET', uni_key(field), value) == owner
        and (not key or not holds(key, field, value)) then
      redis.call('HDEL', uni_key(field), value)
      removed[field] = removed[field] + 1
    end
  end
else -- idx
  for _, item in ipairs(items) do
    if not item[2] or not holds(item[2], field, set_value) then
      removed[field] = removed[field] + redis.call('SREM', set_key, item[1])
    end
  end
end
return { ghosts, ids_added, raised, changed, added, removed, clashes }
