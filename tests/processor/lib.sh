# tests/processor/lib.sh: helpers the processor test scripts share (sourced).

# port: a random port that no socket of this machine uses now (other tests
# pick theirs too; a start that finds it taken since tries another)
port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 30000))
        if ! grep -qi ":$(printf '%04X' "$p") " /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    echo "$p"
}

# http PORT PATH: the body of a GET on 127.0.0.1 (no curl needed)
http() {
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: x\r\n\r\n' "$2" >&3
    sed '1,/^\r$/d' <&3
    exec 3<&-
}
