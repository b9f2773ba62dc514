-- wrk script: every request is a public signup, with an email address used only once, for one
-- event. Run by benches/signups.sh; by hand:
--
--   BENCH_EVENT=bench wrk -t2 -c32 -d10s -s benches/signup.lua http://127.0.0.1:8080
--
-- Environment: BENCH_EVENT (the event's slug, default "bench"), BENCH_RUN (a tag put in every
-- address, so that runs against one database do not collide; default: the clock).
--
-- At the end it prints one line that benches/signups.sh reads:
--   BENCH sent=N responses=N accepted=N other=N rps=F p50_ms=F p99_ms=F statuses=202:N,...
-- `sent - responses` is what was still in flight when wrk stopped: the server may still have
-- committed those signups, but nobody saw their answer.

local event = os.getenv("BENCH_EVENT") or "bench"
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local path = "/api/v1/events/" .. event .. "/registrations"
local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }

-- Runs in the main Lua state: give each thread its own number and keep the threads for done().
local threads = {}
local next_id = 1

function setup(thread)
   thread:set("id", next_id)
   table.insert(threads, thread)
   next_id = next_id + 1
end

-- Runs in each thread's own Lua state from here on.
local counter = 0
sent = 0
statuses = {}

function init(args)
   id = id or 0
end

function request()
   counter = counter + 1
   sent = sent + 1
   local who = string.format("%s-t%d-%d", run, id or 0, counter)
   local body = string.format(
      '{"name":"Bench %s","email":"bench-%s@example.org","projects":[]}', who, who)
   return wrk.format("POST", path, headers, body)
end

function response(status, resp_headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local sent_all, accepted, other, responses = 0, 0, 0, 0
   local by_status = {}
   for _, thread in ipairs(threads) do
      sent_all = sent_all + (thread:get("sent") or 0)
      local st = thread:get("statuses") or {}
      for code, n in pairs(st) do
         by_status[code] = (by_status[code] or 0) + n
         responses = responses + n
         if code == 202 then accepted = accepted + n else other = other + n end
      end
   end
   local codes = {}
   for code, n in pairs(by_status) do table.insert(codes, code .. ":" .. n) end
   table.sort(codes)
   local seconds = summary.duration / 1e6
   io.write(string.format(
      "BENCH sent=%d responses=%d accepted=%d other=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f socket_errors=%d statuses=%s\n",
      sent_all, responses, accepted, other, summary.requests / seconds,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
      table.concat(codes, ",")))
end
