-- tests/bench/api/wrk.lua: the requests of `tests/bench/run api` for wrk.
-- Authenticated POSTs to /graphql: each request carries the token of the
-- next learner of GM_BENCH_TOKENS (a file, one JWT a line), so the learners
-- take turns; GM_BENCH_QUERY picks the document: lb (leaderboard(first:
-- 10)), profile (userProfile with badges and streak) or mixed (the two in
-- turn). Requests are formatted once per thread, in init. GM_BENCH_DELAY_MS
-- (unset: none) paces the load: each connection waits that long before
-- each request, so the server is measured below its saturation.
local queries = {
  lb = '{ leaderboard(first: 10) { totalCount entries { rank userId score } ' ..
       'me { rank score } pageInfo { endCursor hasNextPage } } }',
  profile = '{ userProfile { userId exp level coins nextLevelExp ' ..
            'badges { badge { id name } earnedAt } streak { currentStreak } } }',
}

local reqs = {}
local n, i = 0, 0

function init(args)
  local which = os.getenv("GM_BENCH_QUERY") or "lb"
  local docs = which == "mixed" and { queries.lb, queries.profile } or { queries[which] }
  local tokens = {}
  for line in io.lines(os.getenv("GM_BENCH_TOKENS")) do
    tokens[#tokens + 1] = line
  end
  -- mixed: token k sends document k mod 2, so every learner sends both in turn
  for r = 1, 2 do
    for k, t in ipairs(tokens) do
      local doc = docs[((k + r) % #docs) + 1]
      local body = '{"query":"' .. doc .. '"}'
      n = n + 1
      reqs[n] = wrk.format("POST", "/graphql", {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. t,
      }, body)
    end
  end
  i = math.random(n) - 1
end

function request()
  i = i % n + 1
  return reqs[i]
end

-- Only when asked: wrk schedules every request through a timer once the
-- script has a delay function, even one that answers 0.
local delay_ms = tonumber(os.getenv("GM_BENCH_DELAY_MS") or "")
if delay_ms and delay_ms > 0 then
  function delay()
    return delay_ms
  end
end
