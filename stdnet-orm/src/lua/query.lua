-- Run a query: combine index sets server-side, order, slice, and return the result.
--
-- KEYS from `keyp` on: the index sets that `eq` and `in` name by position.
-- ARGV after the common header is a program in postfix form, ending with `end`:
--   all                      every instance
--   eq <field#> <value> <k>  equality: index set KEYS[k], or for a unique field (k = 0)
--                            the instance that its unique hash gives for value
--   in <field#> <n> (<v> <k>)...   union of n equalities
--   range <field#> <min> <max>   sorted-set range (ZRANGE BYSCORE syntax: `(5`, `-inf`)
--   prefix <field#> <text>   lexicographic prefix
--   and <n> | or <n>         intersection / union of the last n results
--   diff                     the second-to-last result minus the last
-- then: sort <how> <field#> <asc|desc>   how: id | score | alpha | number
--       slice <offset> <limit>           negative offset counts from the end; limit -1: all
--       out <mode> ...                   ids | count | load <n> <field#>... | values <field#> | delete
--
-- Intermediate results are temporary keys under the prefix that are deleted before
-- the script returns and expire after a minute should it fail midway.

local temps = {}
local function temp()
  local key = prefix .. ':tmp:' .. (#temps + 1)
  temps[#temps + 1] = key
  return key
end
local function cleanup()
  if #temps > 0 then redis.call('DEL', unpack(temps)) end
end
local function stored(key)
  redis.call('EXPIRE', key, 60)
  return key
end

-- SADD in chunks: unpack() has a limit on the number of values.
local function sadd_all(key, members)
  for s = 1, #members, 5000 do
    local e = math.min(s + 4999, #members)
    redis.call('SADD', key, unpack(members, s, e))
  end
end

local stack = {}
local function pop(n)
  local keys = {}
  for k = n, 1, -1 do
    keys[k] = table.remove(stack)
  end
  return keys
end

while true do
  local op = ARGV[argp]
  if op == 'end' then
    argp = argp + 1
    break
  elseif op == 'all' then
    stack[#stack + 1] = ids_zset
    argp = argp + 1
  elseif op == 'eq' or op == 'in' then
    local i = tonumber(ARGV[argp + 1])
    local values, keys = {}, {}
    local n, at = 1, argp + 2
    if op == 'in' then n, at = tonumber(ARGV[argp + 2]), argp + 3 end
    for k = 1, n do
      values[k] = ARGV[at + 2 * k - 2]
      keys[k] = KEYS[tonumber(ARGV[at + 2 * k - 1])]
    end
    argp = at + 2 * n
    if has(flags[i], 'u') then
      -- A unique field answers equality from its value -> id hash.
      local t = temp()
      if #values > 0 then
        local ids = {}
        for _, id in ipairs(redis.call('HMGET', uni_key(i), unpack(values))) do
          if id then ids[#ids + 1] = id end
        end
        if #ids > 0 then sadd_all(t, ids) end
      end
      stack[#stack + 1] = stored(t)
    elseif #values == 1 then
      stack[#stack + 1] = keys[1]
    else
      local t = temp()
      if #values > 0 then
        redis.call('SUNIONSTORE', t, unpack(keys))
      end
      stack[#stack + 1] = stored(t)
    end
  elseif op == 'range' then
    local t = temp()
    redis.call('ZRANGESTORE', t, num_key(tonumber(ARGV[argp + 1])), ARGV[argp + 2], ARGV[argp + 3], 'BYSCORE')
    stack[#stack + 1] = stored(t)
    argp = argp + 4
  elseif op == 'prefix' then
    local i, text = tonumber(ARGV[argp + 1]), ARGV[argp + 2]
    local members = redis.call('ZRANGE', lex_key(i), '[' .. text, '[' .. text .. '\255', 'BYLEX')
    local ids = {}
    for k, m in ipairs(members) do
      ids[k] = string.match(m, '%z(%d+)$')
    end
    local t = temp()
    if #ids > 0 then sadd_all(t, ids) end
    stack[#stack + 1] = stored(t)
    argp = argp + 3
  elseif op == 'and' or op == 'or' then
    local n = tonumber(ARGV[argp + 1])
    local keys = pop(n)
    local t = temp()
    redis.call(op == 'and' and 'ZINTERSTORE' or 'ZUNIONSTORE', t, n, unpack(keys))
    stack[#stack + 1] = stored(t)
    argp = argp + 2
  elseif op == 'diff' then
    local keys = pop(2)
    local t = temp()
    redis.call('ZDIFFSTORE', t, 2, keys[1], keys[2])
    stack[#stack + 1] = stored(t)
    argp = argp + 1
  else
    cleanup()
    return redis.error_reply('ERR stdnet query: unknown operation ' .. tostring(op))
  end
end

-- The result: a set or sorted set of ids. Index sets only ever hold ids of existing
-- instances, so it needs no intersection with the id set to be counted or sorted.
local top = stack[#stack]
local everything = top == ids_zset
local function card(key)
  if redis.call('TYPE', key).ok == 'set' then return redis.call('SCARD', key) end
  return redis.call('ZCARD', key)
end

local sort_how, sort_field, sort_desc = 'id', nil, false
local offset, limit = 0, -1
local reply
while argp <= #ARGV do
  local op = ARGV[argp]
  if op == 'sort' then
    sort_how, sort_field, sort_desc = ARGV[argp + 1], tonumber(ARGV[argp + 2]), ARGV[argp + 3] == 'desc'
    argp = argp + 4
  elseif op == 'slice' then
    offset, limit = tonumber(ARGV[argp + 1]), tonumber(ARGV[argp + 2])
    argp = argp + 3
  elseif op == 'out' then
    break
  else
    cleanup()
    return redis.error_reply('ERR stdnet query: unknown option ' .. tostring(op))
  end
end

local mode = ARGV[argp + 1]
local total = card(top)
if mode == 'count' then
  cleanup()
  return total
end

-- Ordered, sliced ids.
local ids
local start = offset
if start < 0 then start = math.max(total + start, 0) end
local stop = -1
if limit >= 0 then stop = start + limit - 1 end
if limit == 0 or start >= total then
  ids = {}
elseif sort_how == 'id' or sort_how == 'score' then
  -- A sorted set scored by the sort key: the id set itself, a number field's index
  -- (which holds every instance: `score` is used only for fields that cannot be
  -- empty), or their intersection with the result.
  local ordered
  if sort_how == 'id' then
    ordered = ids_zset
    if not everything then
      ordered = temp()
      redis.call('ZINTERSTORE', ordered, 2, ids_zset, top, 'WEIGHTS', 1, 0)
      stored(ordered)
    end
  else
    ordered = num_key(sort_field)
    if not everything then
      ordered = temp()
      redis.call('ZINTERSTORE', ordered, 2, top, num_key(sort_field), 'WEIGHTS', 0, 1)
      stored(ordered)
    end
  end
  if sort_desc then
    ids = redis.call('ZRANGE', ordered, start, stop, 'REV')
  else
    ids = redis.call('ZRANGE', ordered, start, stop)
  end
else
  local count = total - start
  if limit >= 0 then count = math.min(count, limit) end
  local args = { top, 'BY', prefix .. ':obj:*->' .. names[sort_field], 'LIMIT', start, count }
  if sort_how == 'alpha' then args[#args + 1] = 'ALPHA' end
  if sort_desc then args[#args + 1] = 'DESC' end
  ids = redis.call('SORT', unpack(args))
end

if mode == 'ids' then
  reply = ids
elseif mode == 'load' then
  local n = tonumber(ARGV[argp + 2])
  reply = {}
  for k, id in ipairs(ids) do
    if n == 0 then
      reply[k] = { id, redis.call('HGETALL', obj_key(id)) }
    else
      local fields = {}
      for f = 1, n do fields[f] = names[tonumber(ARGV[argp + 2 + f])] end
      local values = redis.call('HMGET', obj_key(id), unpack(fields))
      local pairs_ = {}
      for f = 1, n do
        if values[f] then
          pairs_[#pairs_ + 1] = fields[f]
          pairs_[#pairs_ + 1] = values[f]
        end
      end
      reply[k] = { id, pairs_ }
    end
  end
elseif mode == 'values' then
  local field = names[tonumber(ARGV[argp + 2])]
  reply = {}
  for k, id in ipairs(ids) do
    reply[k] = redis.call('HGET', obj_key(id), field)
  end
elseif mode == 'delete' then
  reply = 0
  for _, id in ipairs(ids) do
    reply = reply + delete_instance(id)
  end
else
  cleanup()
  return redis.error_reply('ERR stdnet query: unknown output ' .. tostring(mode))
end
cleanup()
return reply
