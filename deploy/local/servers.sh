# deploy/local/servers.sh: shell functions shared by tests/run and
# deploy/local/run (source it; it runs nothing by itself): install the
# packages in packages.txt, pick free ports, and start and stop a private
# PostgreSQL, Redis and Kafka-protocol broker (tests/broker). Every start
# function records what it started in GM_* variables, so gm_servers_stop
# stops exactly those servers and nothing else on the machine.
#
# PostgreSQL refuses to run as root: when root, its folder is handed to the
# `postgres` system user that Debian's postgresql package creates, and its
# commands run through runuser.

GM_LOG_PREFIX=${GM_LOG_PREFIX:-servers}
GM_SERVERS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

GM_PG_DATA=
GM_PG_PORT=
GM_PG_SOCKDIR=
GM_REDIS_PID=
GM_REDIS_PORT=
GM_REDIS_SOCKET=
GM_REDIS_DIR=
GM_KAFKA_PID=
GM_KAFKA_BOOTSTRAP=

gm_say() {
    echo "$GM_LOG_PREFIX: $*" >&2
}

# gm_as_root CMD...: run CMD as root (directly, or through sudo).
gm_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        gm_say "need root (or sudo) to run: $*"
        return 1
    fi
}

# gm_missing_packages FILE: print the packages of FILE that are not
# installed. A name counts as installed when an installed package provides
# it (NodeSource's nodejs provides npm, for instance).
gm_missing_packages() {
    local list=$1
    {
        dpkg-query -W -f='${db:Status-Abbrev}|${Package}|${Provides}\n' 2>/dev/null |
            awk -F'|' '$1 ~ /^.i/ { print "have " $2; n = split($3, p, ","); for (i = 1; i <= n; i++) { sub(/^ +/, "", p[i]); sub(/ .*/, "", p[i]); print "have " p[i] } }'
        sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | awk 'NF { print "want " $0 }'
    } | awk '$1 == "have" { have[$2] = 1; next } !($2 in have) { print $2 }'
}

# gm_install_packages [FILE]: apt-get install what FILE lists and is missing;
# apt-get update runs only when something is missing.
gm_install_packages() {
    local list=${1:-$GM_SERVERS_LIB_DIR/packages.txt}
    local missing
    missing=$(gm_missing_packages "$list" | tr '\n' ' ')
    if [ -z "${missing// /}" ]; then
        return 0
    fi
    gm_say "installing: $missing"
    gm_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # shellcheck disable=SC2086 # one word per package
    gm_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}

# gm_port_in_use PORT: true when something accepts connections on it, or
# (with ss) when a TCP socket not in TIME-WAIT has it as its local port: an
# outgoing connection's port cannot be bound by a server either. (A socket
# bound but neither listening nor connected shows nowhere: a server's bind
# can still fail, so callers that can, try another port.)
gm_port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    command -v ss >/dev/null 2>&1 && [ -n "$(ss -Htan exclude time-wait "( sport = :$1 )" 2>/dev/null)" ]
}

# gm_free_port [PREFERRED]: print PREFERRED when it is free, else a free
# random port from 20000 up to the kernel's ephemeral range (where outgoing
# connections take their ports; 32768 by default). A port handed out is
# reserved for 10 minutes in GM_PORTS_FILE (one file for the machine, under
# a lock), so neither two calls of one script (usually run as $(...), a
# subshell that cannot pass a variable back) nor two scripts running at
# once get the same port before its server binds it.
GM_PORTS_FILE=${GM_PORTS_FILE:-${TMPDIR:-/tmp}/gamify-ports-reserved}
gm_free_port() {
    (
        umask 000
        # without the file (a read-only /tmp) the reservations are skipped
        if exec 9>>"$GM_PORTS_FILE.lock" 2>/dev/null; then
            command -v flock >/dev/null 2>&1 && flock -w 10 9
        fi
        local port=${1:-} tries=0 top=32768 now taken=" " recent=" " kept=
        now=$(date +%s)
        if [ -r "$GM_PORTS_FILE" ]; then
            local p t
            while read -r p t; do
                [ -n "$t" ] && [ $((now - t)) -lt 600 ] || continue
                taken="$taken$p "
                kept="$kept$p $t"$'\n'
                [ $((now - t)) -lt 60 ] && recent="$recent$p "
            done <"$GM_PORTS_FILE"
        fi
        reserve() {
            # the file keeps only the reservations still running, plus this one
            printf '%s%s %s\n' "$kept" "$1" "$now" >"$GM_PORTS_FILE.new" 2>/dev/null &&
                mv -f "$GM_PORTS_FILE.new" "$GM_PORTS_FILE" 2>/dev/null
            echo "$1"
        }
        # a preferred port (a script's default) is reused once its last
        # reservation is a minute old and nothing listens there
        if [ -n "$port" ] && ! gm_port_in_use "$port" && [[ "$recent" != *" $port "* ]]; then
            reserve "$port"
            return 0
        fi
        read -r top _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || top=32768
        [ "$top" -gt 21000 ] 2>/dev/null || top=60000
        while [ $tries -lt 200 ]; do
            port=$((20000 + (RANDOM * 32768 + RANDOM) % (top - 20000)))
            tries=$((tries + 1))
            if [[ "$taken" == *" $port "* ]] || gm_port_in_use "$port"; then
                continue
            fi
            reserve "$port"
            return 0
        done
        gm_say "no free port found"
        return 1
    )
}

# gm_pg_bindir: print the bin folder of the newest installed PostgreSQL.
gm_pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
        gm_say "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin"
        return 1
    fi
    echo "$dir"
}

# gm_pg_as_owner CMD...: run CMD as the user that owns the cluster. As
# root, from / (paths given to it are absolute): the current folder, a
# clone in /root for instance, may be closed to the postgres user.
gm_pg_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# gm_pg_stop_stale DIR: stop a PostgreSQL left running on DIR/data by an
# earlier run that was killed (it is ours: the folder is private).
gm_pg_stop_stale() {
    local dir=$1 bin
    [ -f "$dir/data/postmaster.pid" ] || return 0
    bin=$(gm_pg_bindir) || return 1
    if gm_pg_as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        gm_say "stopping the PostgreSQL left running on $dir/data"
        gm_pg_as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || return 1
    fi
}

# gm_pg_start DIR PORT [FSYNC]: start PostgreSQL with its data in DIR/data,
# its unix socket and log in DIR, listening on 127.0.0.1:PORT; initdb first
# when DIR/data holds no cluster. FSYNC (on|off, default on) is fsync.
gm_pg_start() {
    local dir=$1 port=$2 fsync=${3:-on} bin i
    bin=$(gm_pg_bindir) || return 1
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        if ! id postgres >/dev/null 2>&1; then
            gm_say "the postgres system user is missing (install the postgresql package)"
            return 1
        fi
        chown postgres: "$dir"
        chmod 0700 "$dir"
        if ! runuser -u postgres -- test -w "$dir"; then
            gm_say "user postgres cannot reach $dir (a parent folder is closed to it)"
            return 1
        fi
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        gm_pg_as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
            --no-locale >"$dir/initdb.log" 2>&1 || {
            gm_say "initdb failed:"
            cat "$dir/initdb.log" >&2
            return 1
        }
    fi
    GM_PG_DATA=$dir/data
    GM_PG_PORT=$port
    GM_PG_SOCKDIR=$dir
    gm_pg_stop_stale "$dir" || return 1
    gm_pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 120 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=$fsync" \
        start >/dev/null || {
        gm_say "PostgreSQL did not start; its log:"
        tail -n 30 "$dir/postgres.log" >&2
        return 1
    }
    for i in $(seq 1 60); do
        if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
            return 0
        fi
        sleep 0.5
    done
    gm_say "PostgreSQL on port $port is not ready"
    return 1
}

# gm_pg_stop: stop the PostgreSQL that gm_pg_start started, if running.
gm_pg_stop() {
    local bin
    [ -n "$GM_PG_DATA" ] || return 0
    if [ -f "$GM_PG_DATA/postmaster.pid" ] && bin=$(gm_pg_bindir); then
        gm_pg_as_owner "$bin/pg_ctl" -D "$GM_PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1 ||
            gm_pg_as_owner "$bin/pg_ctl" -D "$GM_PG_DATA" -m immediate -w stop >/dev/null 2>&1 ||
            true
    fi
    GM_PG_DATA=
}

# gm_redis_stop_stale DIR: stop a Redis left running with its pid file in
# DIR by an earlier run that was killed.
gm_redis_stop_stale() {
    local dir=$1 old
    [ -s "$dir/redis.pid" ] || return 0
    old=$(cat "$dir/redis.pid")
    if [ "$(cat "/proc/$old/comm" 2>/dev/null)" = redis-server ]; then
        gm_say "stopping the Redis left running from $dir (pid $old)"
        kill -TERM "$old" 2>/dev/null || true
        gm_wait_gone "$old" 10 || kill -KILL "$old" 2>/dev/null || true
    fi
    rm -f "$dir/redis.pid"
}

# gm_redis_start DIR PORT: start Redis on 127.0.0.1:PORT without
# persistence, with its pid file and log in DIR.
gm_redis_start() {
    local dir=$1 port=$2 i from
    mkdir -p "$dir"
    gm_redis_stop_stale "$dir"
    rm -f "$dir/redis.pid"
    GM_REDIS_DIR=$dir
    # this start's part of the log (it is appended to)
    from=$(($(stat -c %s "$dir/redis.log" 2>/dev/null || echo 0) + 1))
    # A Unix socket beside the port (unix:// URLs), when its path fits sun_path.
    local sock=()
    GM_REDIS_SOCKET=
    if [ $((${#dir} + 11)) -le 100 ]; then
        GM_REDIS_SOCKET=$dir/redis.sock
        sock=(--unixsocket "$GM_REDIS_SOCKET" --unixsocketperm 700)
    fi
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
        "${sock[@]}" --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null || {
        gm_say "redis-server did not start"
        return 1
    }
    for i in $(seq 1 120); do
        if [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] &&
            [ -s "$dir/redis.pid" ]; then
            GM_REDIS_PID=$(cat "$dir/redis.pid")
            GM_REDIS_PORT=$port
            return 0
        fi
        # a port taken meanwhile: no need to wait out the PINGs
        tail -c "+$from" "$dir/redis.log" 2>/dev/null | grep -q 'Failed listening on port' && break
        sleep 0.25
    done
    gm_say "Redis on port $port does not answer PING; its log:"
    tail -c "+$from" "$dir/redis.log" 2>/dev/null | tail -n 30 >&2
    gm_redis_stop
    return 1
}

# gm_wait_gone PID SECONDS: wait until PID has exited; false on timeout.
gm_wait_gone() {
    local pid=$1 i
    for i in $(seq 1 $(($2 * 10))); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

# gm_redis_stop: stop the Redis that gm_redis_start started, if running:
# by the pid of its own pid file, never by port (a port that ours could not
# bind belongs to someone else's server).
gm_redis_stop() {
    local pid=$GM_REDIS_PID
    if [ -z "$pid" ] && [ -n "$GM_REDIS_DIR" ] && [ -s "$GM_REDIS_DIR/redis.pid" ]; then
        pid=$(cat "$GM_REDIS_DIR/redis.pid")
    fi
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = redis-server ]; then
        kill -TERM "$pid" 2>/dev/null || true
        gm_wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
    fi
    GM_REDIS_PID=
    GM_REDIS_PORT=
    GM_REDIS_SOCKET=
    GM_REDIS_DIR=
}

# gm_kafka_start BROKER DIR [ARGS...]: start the mock Kafka broker binary
# with ARGS, its output in DIR; sets GM_KAFKA_BOOTSTRAP from its first line.
gm_kafka_start() {
    local broker=$1 dir=$2 i
    shift 2
    mkdir -p "$dir"
    : >"$dir/kafka.out"
    "$broker" "$@" >"$dir/kafka.out" 2>"$dir/kafka.log" </dev/null &
    GM_KAFKA_PID=$!
    for i in $(seq 1 100); do
        if [ -n "$(head -n 1 "$dir/kafka.out")" ]; then
            GM_KAFKA_BOOTSTRAP=$(head -n 1 "$dir/kafka.out")
            return 0
        fi
        if ! kill -0 "$GM_KAFKA_PID" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    gm_say "the Kafka mock broker did not start; its log:"
    tail -n 30 "$dir/kafka.log" >&2
    return 1
}

# gm_kafka_stop: stop the broker that gm_kafka_start started, if running.
gm_kafka_stop() {
    [ -n "$GM_KAFKA_PID" ] || return 0
    kill -TERM "$GM_KAFKA_PID" 2>/dev/null || true
    if ! gm_wait_gone "$GM_KAFKA_PID" 10; then
        kill -KILL "$GM_KAFKA_PID" 2>/dev/null || true
    fi
    wait "$GM_KAFKA_PID" 2>/dev/null || true
    GM_KAFKA_PID=
    GM_KAFKA_BOOTSTRAP=
}

# gm_servers_stop: stop everything the gm_*_start functions started.
gm_servers_stop() {
    gm_kafka_stop
    gm_redis_stop
    gm_pg_stop
}
