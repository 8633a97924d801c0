#!/usr/bin/env bash
# redis-server's instructions per inserted object for stdnet-orm's save path, counted
# by callgrind: repeatable to about 0.1% for the same code, whatever else the machine
# does, unlike times. Used for the "server instructions per object" table of
# benches/README.md.
#
#   benches/orm-server-instructions.sh            # 20,000 objects as `User`
#   N=5000 benches/orm-server-instructions.sh prefix   # as `PrefixUser`
#
# It starts its own redis-server under valgrind on a free loopback port, loads the
# save script with a first small insert, empties the server, zeroes the counters,
# inserts N objects with examples/orm_insert.rs, and divides the instructions counted
# in between by N.
set -euo pipefail

N=${N:-20000}
MODE=${1:-}
cd "$(dirname "$0")/.."
for tool in redis-server redis-cli valgrind callgrind_control callgrind_annotate; do
    command -v "$tool" >/dev/null || {
        echo "$tool not found (apt-get install redis-server redis-tools valgrind)" >&2
        exit 1
    }
done
cargo build -q --release -p stdnet-benches --example orm_insert
INSERT=target/release/examples/orm_insert

# shellcheck source=private-redis.sh
source benches/private-redis.sh
DIR=$(mktemp -d)
start_private_redis valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.out"
VG=$SERVER_PID
URL="redis://127.0.0.1:$PORT/0"
"$INSERT" "$URL" 1000 $MODE 2>/dev/null
redis-cli -p "$PORT" flushall >/dev/null
callgrind_control -z "$VG" >/dev/null 2>&1
"$INSERT" "$URL" "$N" $MODE
callgrind_control -d "$VG" >/dev/null 2>&1
total=$(callgrind_annotate "$(ls "$DIR"/cg.out.* | head -1)" 2>/dev/null |
    awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
echo "redis-server instructions: $total for $N objects (${MODE:-no prefix}): $((total / N)) per object"
