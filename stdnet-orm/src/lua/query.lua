-- Run a query: combine index sets server-side, order, slice, and return the result.
--
-- KEYS from `keyp` on: the index sets that `eq` and `in` name by position.
-- ARGV after the common header is a program in postfix form, ending with `end`.
-- Field number 0 is the primary key (answered from the id set):
--   all                      every instance
--   eq <field#> <value> <k>  equality: index set KEYS[k], or for a unique field or
--                            the primary key (k = 0) the unique hash or the id set
--   in <field#> <n> (<v> <k>)...   union of n equalities
--   range <field#> <min> <max>   sorted-set range (ZRANGE BYSCORE syntax: `(5`, `-inf`)
--   prefix <field#> <text>   lexicographic prefix
--   and <n> | or <n>         intersection / union of the last n results
--   diff                     the second-to-last result minus the last
-- then: sort <how> <field#> <asc|desc>   how: id | score | alpha | number
--       slice <offset> <limit>           negative offset counts from the end; limit -1: all
--       out <mode> ...                   ids | count | indexed | exists | full
--                                        | load <n> <field#>... | values <field#> | delete
--                                        (delete returns how many existed, or
--                                        {'corrupt', key, reason} with nothing written)
--
-- Index entries may outlive their hash (deleted outside the ORM, evicted, expired):
-- every output but `indexed` (the plain size of the combined index sets) skips ids
-- whose hash is gone, and offset and limit count live instances only.
--
-- Intermediate results are temporary keys `<prefix>:tmp:<n>`. Each is emptied when a
-- step creates it (so nothing left over can add to a result), and all of them are
-- deleted before the script returns, on errors too: the body runs under pcall, which
-- also catches the errors that redis.call raises.

local CHUNK = 4000 -- below unpack()'s limit on the number of values (about 8000)

local temps = {}
local function temp()
  local key = prefix .. ':tmp:' .. (#temps + 1)
  temps[#temps + 1] = key
  redis.call('DEL', key)
  return key
end

-- Calls f(first, last) over `list` in chunks of at most CHUNK.
local function chunks(list, f)
  for s = 1, #list, CHUNK do
    f(s, math.min(s + CHUNK - 1, #list))
  end
end

local function sadd_all(key, members)
  chunks(members, function(s, e) redis.call('SADD', key, unpack(members, s, e)) end)
end

-- Stores in t the result of `command` (SUNIONSTORE, or ZUNIONSTORE / ZINTERSTORE,
-- which take a key count) over keys, folding t into each further chunk.
local function combine(command, t, keys, counted)
  for s = 1, #keys, CHUNK do
    local args = {}
    if s > 1 then args[1] = t end
    for k = s, math.min(s + CHUNK - 1, #keys) do args[#args + 1] = keys[k] end
    if counted then
      redis.call(command, t, #args, unpack(args))
    else
      redis.call(command, t, unpack(args))
    end
  end
end

-- The type of a result key: set, zset, or none for a temporary never created. A key
-- of any other type where an index should be is an error, as the set commands make it.
local function kind(key)
  local t = redis.call('TYPE', key).ok
  if t ~= 'set' and t ~= 'zset' and t ~= 'none' then
    error({ err = 'WRONGTYPE stdnet query on ' .. label .. ': ' .. key .. ' holds a ' .. t .. ', not an index' })
  end
  return t
end

-- The ids in a result key (a set, a sorted set, or a temporary that was never created).
local function members(key)
  local t = kind(key)
  if t == 'set' then return redis.call('SMEMBERS', key) end
  if t == 'zset' then return redis.call('ZRANGE', key, 0, -1) end
  return {}
end

local function card(key)
  local t = kind(key)
  if t == 'set' then return redis.call('SCARD', key) end
  if t == 'zset' then return redis.call('ZCARD', key) end
  return 0
end

local function live(id) return redis.call('EXISTS', obj_key(id)) == 1 end

-- How many of ids (positions s..e) have a hash: EXISTS with many keys counts them.
local function count_live(ids, s, e)
  local n = 0
  for a = s, e, CHUNK do
    local hashes = {}
    for k = a, math.min(a + CHUNK - 1, e) do hashes[#hashes + 1] = obj_key(ids[k]) end
    n = n + redis.call('EXISTS', unpack(hashes))
  end
  return n
end

-- The first k of ids in the order `less`, sorted: a bounded max-heap, O(n log k).
local function smallest(ids, k, less)
  local heap = {}
  local function swap(i, j) heap[i], heap[j] = heap[j], heap[i] end
  for _, id in ipairs(ids) do
    if #heap < k then
      heap[#heap + 1] = id
      local i = #heap
      while i > 1 and less(heap[math.floor(i / 2)], heap[i]) do
        swap(i, math.floor(i / 2))
        i = math.floor(i / 2)
      end
    elseif less(id, heap[1]) then
      heap[1] = id
      local i = 1
      while true do
        local c = 2 * i
        if c > #heap then break end
        if c < #heap and less(heap[c], heap[c + 1]) then c = c + 1 end
        if not less(heap[i], heap[c]) then break end
        swap(i, c)
        i = c
      end
    end
  end
  table.sort(heap, less)
  return heap
end

-- The exclusive upper bound of the lex range of strings starting with `text`.
local function after_prefix(text)
  local t = text
  while #t > 0 and string.byte(t, #t) == 255 do t = string.sub(t, 1, -2) end
  if #t == 0 then return '+' end
  return '(' .. string.sub(t, 1, -2) .. string.char(string.byte(t, #t) + 1)
end

-- Days since 1970-01-01 of a proleptic Gregorian date.
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local doy = math.floor((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

-- The sort score of a stored number or date, as its sorted-set score would be: a
-- number's value, a date's days since 1970-01-01, a timestamp's seconds since the
-- epoch. nil for anything else.
local function score_of(v)
  local n = tonumber(v)
  if n then return n end
  local y, m, d, rest = string.match(v, '^([+-]?%d+)-(%d%d)-(%d%d)(.*)$')
  if not y then return nil end
  local days = days_from_civil(tonumber(y), tonumber(m), tonumber(d))
  if rest == '' then return days end
  local hh, mm, ss, frac = string.match(rest, '^T(%d%d):(%d%d):(%d%d)(%.?%d*)Z$')
  if not hh then return nil end
  return days * 86400 + tonumber(hh) * 3600 + tonumber(mm) * 60 + tonumber(ss)
    + (tonumber('0' .. frac) or 0)
end

local function fail(message)
  error({ err = 'ERR stdnet query on ' .. label .. ': ' .. message })
end

local function run()
  local stack = {}
  local function push(key) stack[#stack + 1] = key end
  local function pop(n)
    local keys = {}
    for k = n, 1, -1 do keys[k] = table.remove(stack) end
    return keys
  end

  while true do
    local op = ARGV[argp]
    if op == 'end' then
      argp = argp + 1
      break
    elseif op == 'all' then
      push(ids_zset)
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
      if i == 0 or has(flags[i], 'u') then
        -- The primary key answers from the id set, a unique field from its
        -- value -> id hash.
        local t = temp()
        local ids = {}
        chunks(values, function(s, e)
          if i == 0 then
            local scores = redis.call('ZMSCORE', ids_zset, unpack(values, s, e))
            for k = s, e do
              if scores[k - s + 1] then ids[#ids + 1] = values[k] end
            end
          else
            for _, id in ipairs(redis.call('HMGET', uni_key(i), unpack(values, s, e))) do
              if id then ids[#ids + 1] = id end
            end
          end
        end)
        sadd_all(t, ids)
        push(t)
      elseif n == 1 then
        push(keys[1])
      else
        local t = temp()
        combine('SUNIONSTORE', t, keys, false)
        push(t)
      end
    elseif op == 'range' then
      local i = tonumber(ARGV[argp + 1])
      local t = temp()
      local source = ids_zset
      if i > 0 then source = num_key(i) end
      redis.call('ZRANGESTORE', t, source, ARGV[argp + 2], ARGV[argp + 3], 'BYSCORE')
      push(t)
      argp = argp + 4
    elseif op == 'prefix' then
      local i, text = tonumber(ARGV[argp + 1]), ARGV[argp + 2]
      local found = redis.call('ZRANGE', lex_key(i), '[' .. text, after_prefix(text), 'BYLEX')
      -- Members are `<value>\0<id>`: keep those whose value (up to the last NUL,
      -- as an id has none) starts with the text, which may itself end in NUL.
      local ids = {}
      for _, m in ipairs(found) do
        local value, id = string.match(m, '^(.*)%z(%d+)$')
        if id and string.sub(value, 1, #text) == text then ids[#ids + 1] = id end
      end
      local t = temp()
      sadd_all(t, ids)
      push(t)
      argp = argp + 3
    elseif op == 'and' or op == 'or' then
      local keys = pop(tonumber(ARGV[argp + 1]))
      local t = temp()
      combine(op == 'and' and 'ZINTERSTORE' or 'ZUNIONSTORE', t, keys, true)
      push(t)
      argp = argp + 2
    elseif op == 'diff' then
      local keys = pop(2)
      local t = temp()
      redis.call('ZDIFFSTORE', t, 2, keys[1], keys[2])
      push(t)
      argp = argp + 1
    else
      fail('unknown operation ' .. tostring(op))
    end
  end

  -- The result: a set or sorted set of ids, possibly with ids whose hash is gone.
  local top = stack[#stack]
  local everything = top == ids_zset

  local sort_how, sort_field, sort_desc = 'id', nil, false
  local offset, limit = 0, -1
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
      fail('unknown option ' .. tostring(op))
    end
  end

  local mode = ARGV[argp + 1]
  if mode == 'indexed' then return card(top) end
  if mode == 'count' then
    local ids = members(top)
    return count_live(ids, 1, #ids)
  end
  if mode == 'exists' then
    -- Any order will do: stop at the first live id.
    local t = kind(top)
    if t == 'set' then
      local cursor = '0'
      repeat
        local step = redis.call('SSCAN', top, cursor, 'COUNT', 100)
        cursor = step[1]
        if #step[2] > 0 and count_live(step[2], 1, #step[2]) > 0 then return 1 end
      until cursor == '0'
    elseif t == 'zset' then
      local n = redis.call('ZCARD', top)
      for a = 0, n - 1, 100 do
        local ids = redis.call('ZRANGE', top, a, a + 99)
        if count_live(ids, 1, #ids) > 0 then return 1 end
      end
    end
    return 0
  end

  -- What each output reads of a live instance; nil when its hash is gone. `known`:
  -- the caller has seen the hash exist.
  local probe
  local batch_check = mode == 'ids' or mode == 'delete'
  if batch_check then
    probe = function(id, known) if known or live(id) then return id end end
  elseif mode == 'full' then
    probe = function(id)
      local h = redis.call('HGETALL', obj_key(id))
      if #h > 0 then return { id, h } end
    end
  elseif mode == 'load' then
    local fields = {}
    for f = 1, tonumber(ARGV[argp + 2]) do fields[f] = names[tonumber(ARGV[argp + 2 + f])] end
    probe = function(id)
      local pairs_ = {}
      if #fields > 0 then
        local values = redis.call('HMGET', obj_key(id), unpack(fields))
        for f = 1, #fields do
          if values[f] then
            pairs_[#pairs_ + 1] = fields[f]
            pairs_[#pairs_ + 1] = values[f]
          end
        end
      end
      if #pairs_ > 0 or live(id) then return { id, pairs_ } end
    end
  elseif mode == 'values' then
    local field = names[tonumber(ARGV[argp + 2])]
    probe = function(id)
      local v = redis.call('HGET', obj_key(id), field)
      if v or live(id) then return v end -- false: live, without a value
    end
  else
    fail('unknown output ' .. tostring(mode))
  end

  if limit == 0 then
    if mode == 'delete' then return 0 end
    return {}
  end

  -- The result in order: n ids, fetch(a, b) those of ranks a..b (0-based).
  local n, fetch
  if sort_how == 'id' or sort_how == 'score' then
    -- A sorted set scored by the sort key: the id set itself, a number field's index
    -- (which holds every instance: `score` is used only for fields that cannot be
    -- empty), or their intersection with the result.
    local ordered
    if sort_how == 'id' then
      ordered = ids_zset
      if not everything then
        ordered = temp()
        redis.call('ZINTERSTORE', ordered, 2, ids_zset, top, 'WEIGHTS', 1, 0)
      end
    else
      ordered = num_key(sort_field)
      if not everything then
        ordered = temp()
        redis.call('ZINTERSTORE', ordered, 2, top, num_key(sort_field), 'WEIGHTS', 0, 1)
      end
    end
    n = redis.call('ZCARD', ordered)
    fetch = function(a, b)
      if sort_desc then return redis.call('ZRANGE', ordered, a, b, 'REV') end
      return redis.call('ZRANGE', ordered, a, b)
    end
  else
    -- Sorted here, by each instance's stored value: numbers and dates by score (no
    -- value counts as 0, NaN comes after every number), anything else by its text (no
    -- value first). Ties by id as text, as in a sorted set.
    local ids = members(top)
    local field = names[sort_field]
    local key = {}
    local before
    -- Ties are broken by id, so every order is total and the result deterministic.
    if sort_how == 'number' then
      for _, id in ipairs(ids) do
        local v = redis.call('HGET', obj_key(id), field)
        local s = 0
        if v then
          s = score_of(v)
          if not s then fail('cannot sort by ' .. field .. ': instance ' .. id .. ' holds ' .. v) end
        end
        key[id] = s
      end
      before = function(a, b)
        local x, y = key[a], key[b]
        if x ~= x then
          if y ~= y then return a < b end
          return false
        end
        if y ~= y or x < y then return true end
        if y < x then return false end
        return a < b
      end
    else
      for _, id in ipairs(ids) do key[id] = redis.call('HGET', obj_key(id), field) end
      before = function(a, b)
        local x, y = key[a], key[b]
        if x == y then return a < b end
        if not x then return true end
        if not y then return false end
        if x < y then return true end
        if y < x then return false end
        return a < b
      end
    end
    local less = before
    if sort_desc then less = function(a, b) return before(b, a) end end
    n = #ids
    -- A page near the start needs only its first offset + limit ids in order (the walk
    -- below reads exactly those unless some hashes are gone): select them. Otherwise,
    -- or once the walk goes past them, sort everything.
    local ordered, k = ids, n
    if offset >= 0 and limit > 0 and offset + limit < n then
      k = offset + limit
      ordered = smallest(ids, k, less)
    else
      table.sort(ids, less)
    end
    fetch = function(a, b)
      if b >= k then
        table.sort(ids, less)
        ordered, k = ids, n
      end
      local out = {}
      for r = a, b do out[#out + 1] = ordered[r + 1] end
      return out
    end
  end

  -- Walk the order from the start (or, for a negative offset, from the end), probing
  -- each id, until the slice of live instances is complete; ids reads in chunks that
  -- start at the slice's size and double.
  local rows, ghosts = {}, {}
  do
    local full = function() return limit >= 0 and #rows >= limit end
    if offset >= 0 then
      local skip, r = offset, 0
      local chunk = n
      if limit >= 0 then chunk = math.max(offset + limit, 1) end
      while r < n and not full() do
        local last = math.min(r + chunk, n) - 1
        local got = fetch(r, last)
        local known = batch_check and count_live(got, 1, #got) == #got
        for _, id in ipairs(got) do
          local row = probe(id, known)
          if row == nil then
            ghosts[#ghosts + 1] = id
          elseif skip > 0 then
            skip = skip - 1
          else
            rows[#rows + 1] = row
            if full() then break end
          end
        end
        r = last + 1
        chunk = chunk * 2
      end
    else
      local want, r = -offset, n - 1
      local tail, chunk = {}, -offset
      while r >= 0 and #tail < want do
        local first = math.max(r - chunk + 1, 0)
        local got = fetch(first, r)
        local known = batch_check and count_live(got, 1, #got) == #got
        for k = #got, 1, -1 do
          local row = probe(got[k], known)
          if row == nil then
            ghosts[#ghosts + 1] = got[k]
          else
            tail[#tail + 1] = row
            if #tail == want then break end
          end
        end
        r = first - 1
        chunk = chunk * 2
      end
      for k = #tail, 1, -1 do
        if full() then break end
        rows[#rows + 1] = tail[k]
      end
    end
  end

  if mode == 'delete' then
    -- Ids whose hash is gone are deleted too (their cleanup is delete_instance's).
    -- Every key type is checked before the first write: a corrupt reply writes
    -- nothing.
    local bad = header_wrong_type(false)
    if bad then return bad end
    local plans, seen = {}, {}
    for _, list in ipairs({ rows, ghosts }) do
      for _, id in ipairs(list) do
        local plan
        plan, bad = plan_delete(id, nil, nil, seen)
        if bad then return bad end
        plans[#plans + 1] = plan
      end
    end
    local deleted = 0
    for _, plan in ipairs(plans) do deleted = deleted + delete_instance(plan) end
    return deleted
  end
  return rows
end

local ok, reply = pcall(run)
if #temps > 0 then redis.call('DEL', unpack(temps)) end
if ok then return reply end
if type(reply) == 'table' and reply.err then return redis.error_reply(reply.err) end
return redis.error_reply('ERR stdnet query on ' .. label .. ': ' .. tostring(reply))
