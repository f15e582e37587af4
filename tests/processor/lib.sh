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

# redis_up [ARGS]: a private redis-server on $rport with its folder in
# $tmp/redis, its pid in $rpid; REDIS_SAVE ('' by default: nothing saved)
# is its --save policy (say '3600 1' to save at shutdown and load at start:
# a restart, not a loss). Calls the script's fail when it does not answer.
redis_up() {
    mkdir -p "$tmp/redis"
    redis-server --port "$rport" --bind 127.0.0.1 --save "${REDIS_SAVE:-}" --appendonly no \
        --dir "$tmp/redis" "$@" >"$tmp/redis/log" 2>&1 &
    rpid=$!
    for _ in $(seq 50); do
        redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && return 0
        sleep 0.1
    done
    fail "redis-server did not start on $rport"
}

# rcli ARGS...: redis-cli on the Redis of GAMIFY_TEST_REDIS
rcli() {
    local hostport=${GAMIFY_TEST_REDIS#redis://}
    hostport=${hostport%%/*}
    redis-cli -h "${hostport%%:*}" -p "${hostport##*:}" "$@"
}

# dump_scores < DUMP: the leaderboard scores of `gamify dump` lines as
# "board period user encoded", sorted: what Redis must hold (the score with
# its reach time, docs/operations.md; lbscore.py encodes it)
dump_scores() {
    python3 "$(dirname "${BASH_SOURCE[0]}")/lbscore.py" | sort
}

# redis_scores PREFIX: every member of every board key PREFIXlb:BOARD:PERIOD
# in Redis as "board period user score", sorted (one redis-cli for all
# keys: each key's members follow an ECHO of the key)
redis_scores() {
    rcli --scan --pattern "${1}lb:*" |
        awk '{ printf "ECHO \"@@%s\"\nZRANGE \"%s\" 0 -1 WITHSCORES\n", $0, $0 }' | rcli |
        awk -v pre="${1}lb:" '
            /^@@/ { k = substr($0, 3 + length(pre)); b = k; sub(/:[^:]*$/, "", b)
                    p = k; sub(/.*:/, "", p); m = ""; next }
            m == "" { m = $0; next }
            { printf "%s %s %s %.0f\n", b, p, m, $0; m = "" }' | sort
}

# dump_learners < DUMP: per learner "user|exp|level|coins|coinsEarned|
# coinsSpent|lessonsCompleted|lessonCompletions|tournamentsPlayed|
# tournamentWins|tournamentLosses|currentStreak|longestStreak|freezesHeld|
# optOut(t/f)|badges in award order|redemptions in log order as
# id:reward:status:reason", sorted: what the Postgres read model must hold
dump_learners() {
    awk '
    function num(k,    s) {
        if (!match($0, "\"" k "\":-?[0-9]+")) return "?"
        s = substr($0, RSTART, RLENGTH); sub(/.*:/, "", s); return s
    }
    {
        match($0, /^\{"userId":"[^"]*"/); line = substr($0, 12, RLENGTH - 12)
        n = split("exp level coins coinsEarned coinsSpent lessonsCompleted lessonCompletions " \
                  "tournamentsPlayed tournamentWins tournamentLosses currentStreak longestStreak " \
                  "freezesHeld", ks, " ")
        for (i = 1; i <= n; i++) line = line "|" num(ks[i])
        line = line "|" (index($0, "\"leaderboardOptOut\":true") ? "t" : "f")
        match($0, /"badges":\[[^]]*\]/); b = substr($0, RSTART + 10, RLENGTH - 11); gsub(/"/, "", b)
        match($0, /"redemptions":\[[^]]*\]/); r = substr($0, RSTART + 15, RLENGTH - 16)
        gsub(/\{"redemptionId":"/, "", r); gsub(/","rewardId":"/, ":", r)
        gsub(/","status":"/, ":", r); gsub(/","reason":/, ":", r); gsub(/"?\}/, "", r); gsub(/"/, "", r)
        print line "|" b "|" r
    }' | sort
}

# pg_learners CONNINFO: the same lines from the Postgres read model
pg_learners() {
    psql -qXAt "$1" -c "
        SELECT l.user_id, exp, level, coins, coins_earned, coins_spent, lessons_completed,
               lesson_completions, tournaments_played, tournament_wins, tournament_losses,
               current_streak, longest_streak, freezes_held, opt_out,
               coalesce(b.ids, ''), coalesce(r.ids, '')
        FROM learners l
        LEFT JOIN (SELECT user_id, string_agg(badge_id, ',' ORDER BY position) AS ids
                   FROM learner_badges GROUP BY user_id) b USING (user_id)
        LEFT JOIN (SELECT user_id, string_agg(redemption_id || ':' || reward_id || ':' || status
                                              || ':' || coalesce(reason, 'null'), ',' ORDER BY seq) AS ids
                   FROM redemptions GROUP BY user_id) r USING (user_id)" | sort
}
