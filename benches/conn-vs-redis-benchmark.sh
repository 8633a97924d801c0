#!/usr/bin/env bash
# The server's ceiling for the conn benches: redis-benchmark (C, hiredis-style, no
# conversion of replies) against a private redis-server, at the same connection
# counts and pipeline depths as the criterion workloads in benches/benches/conn.rs.
#
#   benches/conn-vs-redis-benchmark.sh            # default request counts
#   N=50000 benches/conn-vs-redis-benchmark.sh    # quicker, noisier
#   CPUS=0 benches/conn-vs-redis-benchmark.sh     # server and client on CPU 0 only
#
# CPUS pins both processes with taskset, like `taskset -c 0 cargo bench ...` pins the
# criterion bench and the redis-server it starts (a child inherits the affinity). On
# a small VM a round trip between two CPUs costs a cross-CPU wake-up that dwarfs
# everything else and varies from run to run; compare pinned with pinned.
#
# It never touches the machine's shared redis on 6379: it starts its own server on a
# free loopback port (no persistence) and kills it on exit.
#
# How to compare with criterion (`cargo bench -p stdnet-benches --bench conn`): the
# last column, "us/iter", is the time redis-benchmark needs for what one criterion
# iteration of that workload does (e.g. 1000 SETs at depth 1000 for
# conn/pipeline_1000_set, 64 GETs for conn/mux_64_tasks_get); put it next to
# criterion's `time:` middle value. Throughputs (Kelem/s, Melem/s) compare directly
# with the "rps" column, since criterion counts one element per reply.
# redis-benchmark does no reply conversion and sends a canned buffer, so it is the
# ceiling a client can approach, not beat (run both while the machine is otherwise
# idle: on 2 cores the client and the server share the CPU).
set -euo pipefail

REDIS_SERVER=${REDIS_SERVER_BIN:-redis-server}
N=${N:-200000}
PIN=()
if [[ -n ${CPUS:-} ]]; then
    PIN=(taskset -c "$CPUS")
fi

for tool in "$REDIS_SERVER" redis-benchmark redis-cli; do
    command -v "$tool" >/dev/null || {
        echo "$tool not found (apt-get install redis-server redis-tools)" >&2
        exit 1
    }
done

# shellcheck source=private-redis.sh
source "$(dirname "$0")/private-redis.sh"
start_private_redis "${PIN[@]}"

# The same 20-field hash as the criterion bench.
hset=(HSET bench:h20)
for i in $(seq -w 0 19); do
    hset+=("field:$i" "value-$i-0123456789")
done
redis-cli -p "$PORT" "${hset[@]}" >/dev/null

# bench <label> <requests per criterion iteration> <redis-benchmark args...>
# Prints, per redis-benchmark test: rps, microseconds per request, and microseconds
# for one criterion iteration's worth of requests.
bench() {
    local label=$1 per_iter=$2
    shift 2
    "${PIN[@]}" redis-benchmark -p "$PORT" --csv "$@" 2>/dev/null |
        awk -F'","' -v label="$label" -v per="$per_iter" '
            NR > 1 {
                gsub(/"/, "", $1); gsub(/"/, "", $2)
                rps = $2 + 0
                if (rps > 0) printf "%-20s %-24s %12.0f %10.2f %12.1f\n", label, $1, rps, 1e6 / rps, per * 1e6 / rps
            }'
}

printf "redis-server %s on port %s, N=%s, CPUs %s\n\n" "$("$REDIS_SERVER" --version | awk '{print $3}')" \
    "$PORT" "$N" "${CPUS:-any}"
printf "%-20s %-24s %12s %10s %12s\n" "workload" "redis-benchmark test" "rps" "us/req" "us/iter"

# Round trips, one connection, no pipelining (ping_sync, ping_async).
bench ping 1 -t ping -n "$N" -c 1 -P 1
# set_get_16b: one SET and one GET per iteration; add the two us/iter figures.
bench set_get_16b 1 -t set,get -d 16 -n "$N" -c 1 -P 1
# get_1m: SET (to create the value), then GET of 1 MiB.
bench get_1m 1 -t set,get -d 1048576 -n $((N / 100)) -c 1 -P 1
# pipeline_1000_set: depth 1000 on one connection.
bench pipeline_1000_set 1000 -t set -d 16 -n $((N * 10)) -c 1 -P 1000
# mux_64_tasks_get and mux_64_futures_get: 64 GETs in flight. One connection at depth 64 is what the
# multiplexed handle does (auto-pipelining); 64 connections at depth 1 is the pool
# alternative.
bench mux_64_tasks_get 64 -t get -d 16 -n $((N * 2)) -c 1 -P 64
bench mux_64_conns_get 64 -t get -d 16 -n $((N * 2)) -c 64 -P 1
# hgetall_20_x1000: 1000 sequential HGETALLs of the 20-field hash.
bench hgetall_20_x1000 1000 -n "$N" -c 1 -P 1 HGETALL bench:h20
