-- Delete instances by id, with every index entry.
--
-- KEYS[1] = the sorted set of all ids. ARGV after the common header: the ids.
-- Returns how many existed.

local deleted = 0
for p = argp, #ARGV do
  deleted = deleted + delete_instance(ARGV[p])
end
return deleted
