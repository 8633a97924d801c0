-- Delete instances by id, with every index entry.
--
-- KEYS from `keyp` on: the hash of each instance, in the order of the ids.
-- ARGV after the common header: the ids. Returns how many existed.

local deleted = 0
for k = 0, #ARGV - argp do
  deleted = deleted + delete_instance(ARGV[argp + k], KEYS[keyp + k])
end
return deleted
