-- wrk script for bench/api_throughput.py.
-- Arguments (after --): METHOD TOKEN TAG [BODY].  TOKEN "-" sends no Authorization header.
-- POST sends BODY with every "{n}" replaced by "TAG-<thread>-<n>" (unique per request); without
-- BODY, {"name": "bench TAG <thread> <n>"}: a unique workspace name on every request.
-- done() prints one parseable line: BENCH_RESULT key=value ...

local threads = 0

function setup(thread)
   thread:set("thread_no", threads)  -- becomes a global in that thread's Lua state
   threads = threads + 1
end

local counter = 0

local function post_request()
   counter = counter + 1
   local body
   if template then
      local unique = string.format("%s-%d-%d", tag, thread_no, counter)
      body = template:gsub("{n}", unique)
   else
      body = string.format('{"name":"bench %s %d %d"}', tag, thread_no, counter)
   end
   return wrk.format(nil, nil, nil, body)
end

function init(args)
   local method, token = args[1] or "GET", args[2] or "-"
   tag = args[3] or "run"
   template = args[4]
   wrk.method = method
   if token ~= "-" then wrk.headers["Authorization"] = "Bearer " .. token end
   if method == "POST" then
      wrk.headers["Content-Type"] = "application/json"
      request = post_request  -- only POST is dynamic; GET keeps wrk's pre-built request
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "BENCH_RESULT requests=%d duration_us=%d p50_us=%.0f p99_us=%.0f non2xx=%d socket_errors=%d\n",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      e.status, e.connect + e.read + e.write + e.timeout))
end
