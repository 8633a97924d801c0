-- Add to one number field of one instance atomically, moving its index entries.
--
-- KEYS from `keyp` on: the instance's hash.
-- ARGV after the common header: id, field#, kind, amount, the model's version field
-- ('' for none: with one, the stored version goes up by one with the value, so a
-- copy read before the increment is a save conflict), then for `int` the type's min
-- and max as decimal text. Kinds:
--   int  an integer type: exact decimal arithmetic on the stored text (Lua numbers
--        are doubles, exact only to 2^53), the result checked against min and max
--   f64  a double: the sum as a double, which must be finite
--   f32  a float: the double sum rounded to the nearest f32 (exactly what adding
--        two f32 gives), which must be finite
-- The new value is stored in the form the Rust side writes (`to_string()`: decimal
-- integers; floats as the shortest digits that read back as the same value, never
-- in exponent form), so equality lookups of it find it.
--
-- Replies, all but `ok` without writing anything:
--   {'ok', new}        stored, indexes moved
--   {'missing'}        the instance's hash is gone
--   {'novalue'}        the hash has no value for the field
--   {'nan', current}   the stored value is not a number of the type
--   {'badversion', v}  the stored version is not a decimal number
--   {'overflow', current}  the result does not fit the type (or is not finite: a
--                      stored infinity included)
--   {'unique', new}    another live instance holds the new value of a unique field
--   {'corrupt', key, reason}  the hash or an index key it writes holds the wrong type

local id, field, kind, amount = ARGV[argp], tonumber(ARGV[argp + 1]), ARGV[argp + 2], ARGV[argp + 3]
local version_field = ARGV[argp + 4]
local key = KEYS[keyp]
local function fail(what)
  return redis.error_reply('ERR stdnet increment: ' .. what)
end
if not id or not string.match(id, '^[1-9]%d*$') then return fail('bad id') end
if not field or field < 1 or field > nfields or field % 1 ~= 0 then return fail('bad field number') end
if not key then return fail('no hash key') end

-- Integers as (negative, digits) with digits free of leading zeros ('0' for zero).
local function parse_int(text)
  local sign, digits = string.match(text or '', '^([+-]?)(%d+)$')
  if not digits then return nil end
  digits = string.gsub(digits, '^0+', '')
  if digits == '' then return false, '0' end
  return sign == '-', digits
end
local function cmp_digits(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end
local function cmp_int(an, am, bn, bm)
  if an ~= bn then return an and -1 or 1 end
  local c = cmp_digits(am, bm)
  if an then return -c end
  return c
end
-- a + b (add) or a - b (a >= b) on digit strings.
local function add_digits(a, b, subtract)
  local out, carry, i, j = {}, 0, #a, #b
  while i > 0 do
    local d = string.byte(a, i) - 48
    local e = j > 0 and string.byte(b, j) - 48 or 0
    local s
    if subtract then s = d - e - carry else s = d + e + carry end
    if s < 0 then s = s + 10; carry = 1
    elseif s > 9 then s = s - 10; carry = 1
    else carry = 0 end
    out[i] = string.char(s + 48)
    i, j = i - 1, j - 1
  end
  local text = table.concat(out)
  if carry > 0 then text = '1' .. text end
  text = string.gsub(text, '^0+', '')
  if text == '' then text = '0' end
  return text
end
local function add_int(an, am, bn, bm)
  if an == bn then
    if #am < #bm then am, bm = bm, am end
    return an, add_digits(am, bm, false)
  end
  local c = cmp_digits(am, bm)
  if c == 0 then return false, '0' end
  if c > 0 then return an, add_digits(am, bm, true) end
  return bn, add_digits(bm, am, true)
end
local function int_text(negative, digits)
  return (negative and '-' or '') .. digits
end

-- Floats.
local huge = math.huge
local function finite(x) return x == x and x ~= huge and x ~= -huge end
-- Rust's float syntax (`f64::from_str`) for finite values: no hex, no spaces.
local function parse_float(text)
  if not text then return nil end
  local mantissa = string.match(text, '^[+-]?([%d%.]+)$')
    or string.match(text, '^[+-]?([%d%.]+)[eE][+-]?%d+$')
  if not mantissa or not string.find(mantissa, '%d') or select(2, string.gsub(mantissa, '%.', '')) > 1 then
    return nil
  end
  local x = tonumber(text)
  if x == nil or not finite(x) then return nil end
  return x
end
local F32_MAX = (2 - 2 ^ -23) * 2 ^ 127
-- The f32 nearest to x (ties to even), as IEEE rounding of a double to single does.
local function to_f32(x)
  if x ~= x or x == 0 or not finite(x) then return x end
  local sign = 1
  if x < 0 then sign, x = -1, -x end
  local m, e = math.frexp(x) -- x = m * 2^e, 0.5 <= m < 1
  local bits = 24
  if e < -125 then bits = 24 - (-125 - e) end -- subnormal: fewer bits left
  if bits < 0 then return sign * 0 end
  local scaled = m * 2 ^ bits
  local r = math.floor(scaled)
  local rest = scaled - r
  if rest > 0.5 or (rest == 0.5 and r % 2 == 1) then r = r + 1 end
  local y = math.ldexp(r, e - bits)
  if y > F32_MAX then return sign * huge end
  return sign * y
end
-- The digit string `d` times the integer m (m * 10 + 9 < 2^53).
local function mul_small(d, m)
  local out, carry = {}, 0
  for i = #d, 1, -1 do
    local v = (string.byte(d, i) - 48) * m + carry
    local digit = v % 10
    out[i] = string.char(48 + digit)
    carry = (v - digit) / 10
  end
  local text = table.concat(out)
  if carry > 0 then text = string.format('%d', carry) .. text end
  return text
end
-- The exact decimal expansion of a positive finite double x: its significant
-- digits d1 d2 ... and the exponent of the first one: x = d1.d2d3... * 10^e.
-- x = A * 2^k with A < 2^53 an integer, written exactly by %.0f; then A * 2^k for
-- k >= 0, or A * 5^-k * 10^k for k < 0, multiplied out in chunks (at most about
-- 110 passes over at most 767 digits, for the smallest subnormals).
local function exact_digits(x)
  local m, e = math.frexp(x)
  local a, k = m * 2 ^ 53, e - 53
  local d, shift = string.format('%.0f', a), 0
  local base, n, chunk = 2, k, 24
  if k < 0 then base, n, chunk, shift = 5, -k, 10, k end
  while n > 0 do
    local step = math.min(n, chunk)
    d = mul_small(d, base ^ step)
    n = n - step
  end
  return d, #d - 1 + shift
end
-- Rust's `Display` of a finite float: the shortest digits that read back as the same
-- value (`back` maps a double to the type), the nearest such when there are two and
-- the larger in magnitude on a tie (as Rust picks), written out in full without
-- exponent.
local function float_text(x, back, max_digits)
  if x == 0 then
    if 1 / x < 0 then return '-0' end
    return '0'
  end
  local negative = x < 0
  if negative then x = -x end
  local all, e10 = exact_digits(x)
  local digits, scale
  for p = 1, max_digits do
    -- The p-digit values just below and above x, and which is nearer.
    local below, rest = string.sub(all, 1, p), string.sub(all, p + 1)
    local above = add_digits(below, '1', false)
    local sc = e10 - (p - 1)
    -- Below is nearer when the rest is under half a unit; above when it is over,
    -- or exactly half (a tie).
    local order
    if not string.find(rest, '[1-9]') then
      order = { below } -- x has p digits
    elseif string.byte(rest, 1) < 53 then -- '5'
      order = { below, above }
    else
      order = { above, below }
    end
    for _, d in ipairs(order) do
      if back(tonumber(d .. 'e' .. sc)) == x then
        digits, scale = d, sc
        break
      end
    end
    if digits then break end
  end
  if not digits then
    digits, scale = string.sub(all, 1, max_digits), e10 - (max_digits - 1)
  end
  local trimmed = string.gsub(digits, '0+$', '')
  scale = scale + (#digits - #trimmed)
  digits = trimmed
  local text
  if scale >= 0 then
    text = digits .. string.rep('0', scale)
  else
    local point = #digits + scale
    if point > 0 then
      text = string.sub(digits, 1, point) .. '.' .. string.sub(digits, point + 1)
    else
      text = '0.' .. string.rep('0', -point) .. digits
    end
  end
  if negative then text = '-' .. text end
  return text
end

-- 1. Check the inputs and the stored value.
local min_n, min_d, max_n, max_d, by_n, by_d, by
if kind == 'int' then
  by_n, by_d = parse_int(amount)
  min_n, min_d = parse_int(ARGV[argp + 5])
  max_n, max_d = parse_int(ARGV[argp + 6])
  if by_n == nil or min_n == nil or max_n == nil then return fail('bad amount or bounds') end
elseif kind == 'f64' or kind == 'f32' then
  by = parse_float(amount)
  if by == nil then return fail('bad amount') end
else
  return fail('unknown kind')
end
if not has(flags[field], 'n') and flags[field] ~= '' then
  return fail('field ' .. names[field] .. ' is indexed but not as a number')
end
local key_type = redis.call('TYPE', key).ok
if key_type == 'none' then return { 'missing' } end
if key_type ~= 'hash' then return { 'corrupt', key, 'holds a ' .. key_type .. ', not an instance hash' } end
local current = redis.call('HGET', key, names[field])
if not current then return { 'novalue' } end

local new, score
if kind == 'int' then
  local cn, cd = parse_int(current)
  if cn == nil or cmp_int(cn, cd, min_n, min_d) < 0 or cmp_int(cn, cd, max_n, max_d) > 0 then
    return { 'nan', current }
  end
  local rn, rd = add_int(cn, cd, by_n, by_d)
  if cmp_int(rn, rd, min_n, min_d) < 0 or cmp_int(rn, rd, max_n, max_d) > 0 then
    return { 'overflow', current }
  end
  new = int_text(rn, rd)
  score = new -- Redis reads it as the nearest double, which is what Rust's `as f64` gives
else
  local back, max_digits = function(v) return v end, 17
  if kind == 'f32' then back, max_digits = to_f32, 9 end
  -- An infinity is a stored float (Rust writes `inf`, `-inf`) with no finite sum.
  if current == 'inf' or current == '-inf' then return { 'overflow', current } end
  local x = parse_float(current)
  if x == nil or not finite(back(x)) then return { 'nan', current } end
  local sum = back(back(x) + by)
  if not finite(sum) then return { 'overflow', current } end
  new = float_text(sum, back, max_digits)
  score = string.format('%.17g', sum)
end

-- The next version, checked here as the save script checks it (a missing one is 0).
local next_version
if version_field ~= '' then
  local stored_version = redis.call('HGET', key, version_field) or '0'
  if not string.match(stored_version, '^%d+$') or #stored_version > 15 then
    return { 'badversion', stored_version }
  end
  next_version = string.format('%d', tonumber(stored_version) + 1)
end

-- A unique value held by another live instance is a clash (an owner whose hash no
-- longer holds it is not).
local f = flags[field]
if has(f, 'u') and new ~= current then
  local owner = redis.call('HGET', uni_key(field), new)
  if owner and owner ~= id and holds(obj_key(owner), field, new) then
    return { 'unique', new }
  end
end

-- Every index key the write touches holds the type the ORM gives it: a write on
-- another type would fail after the hash was written.
if f ~= '' then
  local bad = (has(f, 'i') and (wrong_type(idx_key(field, current), 'set')
      or wrong_type(idx_key(field, new), 'set')))
    or (has(f, 'n') and wrong_type(num_key(field), 'zset'))
    or (has(f, 'u') and wrong_type(uni_key(field), 'hash'))
  if bad then return bad end
end

-- 2. Write: the value, then the index entries moved from the old value to the new.
if next_version then
  redis.call('HSET', key, names[field], new, version_field, next_version)
else
  redis.call('HSET', key, names[field], new)
end
if f ~= '' then
  unindex(field, id, current)
  if has(f, 'i') then redis.call('SADD', idx_key(field, new), id) end
  if has(f, 'n') then redis.call('ZADD', num_key(field), score, id) end
  if has(f, 'u') then redis.call('HSET', uni_key(field), new, id) end
end
return { 'ok', new }
