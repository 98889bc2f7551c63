-- wrk script of bench/http.py: replays pre-generated requests and counts what the server answered.
--
-- Usage: wrk -s bench/http_load.lua <url> -- <requests file> <threads>
-- The file has one "<path>\t<access token>" line per request. Thread i takes lines i, i+T, i+2T, ...
-- so no two threads ever send the same request; "wrapped" counts how often a thread ran out and began
-- again (a fresh-path run must never wrap: a repeated request would be a cache hit).
-- The done() hook prints one line "WRK-RESULT {json}" that bench/http.py parses.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local path_file, thread_count = args[1], tonumber(args[2])
  requests = {}
  local line_no = 0
  for line in io.lines(path_file) do
    if line_no % thread_count == id then
      local path, token = line:match("^([^\t]+)\t(.+)$")
      requests[#requests + 1] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
    end
    line_no = line_no + 1
  end
  position = 0
  wrapped = 0
  hits = 0
  misses = 0
  not_2xx = 0
end

function request()
  position = position + 1
  if position > #requests then
    position = 1
    wrapped = wrapped + 1
  end
  return requests[position]
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    not_2xx = not_2xx + 1
  end
  local cache = headers["X-Cache"] or headers["x-cache"]
  if cache == "hit" then
    hits = hits + 1
  elseif cache == "miss" then
    misses = misses + 1
  end
end

function done(summary, latency, _)
  local totals = { hits = 0, misses = 0, not_2xx = 0, wrapped = 0 }
  for _, thread in ipairs(threads) do
    totals.hits = totals.hits + thread:get("hits")
    totals.misses = totals.misses + thread:get("misses")
    totals.not_2xx = totals.not_2xx + thread:get("not_2xx")
    totals.wrapped = totals.wrapped + thread:get("wrapped")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, "status_errors": %d, '
      .. '"not_2xx": %d, "hits": %d, "misses": %d, "wrapped": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.timeout, e.status,
    totals.not_2xx, totals.hits, totals.misses, totals.wrapped
  ))
end
