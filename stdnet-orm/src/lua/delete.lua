-- Delete instances by id, with every index entry.
--
-- KEYS from `keyp` on: the hash of each instance, in the order of the ids.
-- ARGV after the common header: for each instance its id, then a mask with one '1'
-- (value) or '0' (none) per indexed field of the header, then the values it marks:
-- the instance's values as the caller knows them. They are used only for a ghost
-- (an id whose hash is gone), whose values the server no longer has; an instance
-- with a hash is unindexed from its stored values. Returns how many existed, or
-- {'corrupt', key, reason} without writing anything when a key it would write holds
-- the wrong type.

-- Every mask is checked before anything is written.
local at, per = argp, {}
while at <= #ARGV do
  local mask = ARGV[at + 1]
  if mask == nil or #mask ~= #indexed or string.find(mask, '[^01]') then
    return redis.error_reply('ERR stdnet delete: bad value mask for id ' .. tostring(ARGV[at]))
  end
  local values, n = {}, 0
  for k = 1, #indexed do
    if string.byte(mask, k) == 49 then
      n = n + 1
      values[k] = ARGV[at + 1 + n]
    else
      values[k] = false
    end
  end
  if at + 1 + n > #ARGV then
    return redis.error_reply('ERR stdnet delete: missing values for id ' .. tostring(ARGV[at]))
  end
  per[#per + 1] = { ARGV[at], values }
  at = at + 2 + n
end

-- Then every key type, before the first write.
local bad = header_wrong_type(false)
if bad then return bad end
local plans, seen = {}, {}
for o, instance in ipairs(per) do
  local plan
  plan, bad = plan_delete(instance[1], KEYS[keyp + o - 1], instance[2], seen)
  if bad then return bad end
  plans[o] = plan
end

local deleted = 0
for _, plan in ipairs(plans) do deleted = deleted + delete_instance(plan) end
return deleted
