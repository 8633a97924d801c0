# Sourced by the bench scripts: a private redis-server on a free loopback port, never
# the machine's shared 6379, with nothing persisted, stopped when the script exits.
#
#   source "$(dirname "$0")/private-redis.sh"
#   start_private_redis [command prefix...]   # e.g. taskset -c 0, or valgrind ...
#   redis-cli -p "$PORT" ...
#
# Sets PORT, DIR (the server's scratch directory, made unless DIR is set) and SERVER_PID (the process started,
# which is the prefix command's if one is given), and returns once the server answers.

free_port() {
    if command -v python3 >/dev/null; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    else
        echo $((20000 + RANDOM % 20000))
    fi
}

start_private_redis() {
    PORT=${PORT:-$(free_port)}
    DIR=${DIR:-$(mktemp -d)}
    "$@" "${REDIS_SERVER_BIN:-redis-server}" --port "$PORT" --bind 127.0.0.1 --save "" \
        --appendonly no --dir "$DIR" --logfile "$DIR/redis.log" --daemonize no \
        --protected-mode no >"$DIR/stdout.log" 2>&1 &
    SERVER_PID=$!
    trap stop_private_redis EXIT INT TERM
    for _ in $(seq 300); do
        redis-cli -p "$PORT" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    redis-cli -p "$PORT" ping >/dev/null
}

stop_private_redis() {
    redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    rm -rf "$DIR"
}
