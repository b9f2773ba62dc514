-- wrk script for plain GETs (benches/feeds.sh): it only adds a summary line at the end, so wrk
-- stays as fast as without a script (no response() callback, which would copy every body into
-- Lua). Headers such as If-None-Match are given to wrk with -H.
--
--   wrk -t2 -c32 -d10s --latency -s benches/get.lua http://127.0.0.1:8080/calendar.ics
--
-- The line it prints:
--   BENCH requests=N rps=F p50_ms=F p99_ms=F max_ms=F bytes_per_request=N errors=N status_errors=N
-- bytes_per_request (headers included) tells a 304 (a few hundred bytes) from a full feed.

function done(summary, latency, requests)
   local seconds = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f bytes_per_request=%d errors=%d status_errors=%d\n",
      summary.requests, summary.requests / seconds,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
      summary.requests > 0 and math.floor(summary.bytes / summary.requests) or 0,
      e.connect + e.read + e.write + e.timeout, e.status))
end
