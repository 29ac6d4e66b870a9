-- wrk script for `npm run bench` (bench/run.ts): POSTs one chat request over and over and, when
-- the run is over, prints one JSON line that bench/run.ts parses.
-- Env: BENCH_BODY (the JSON request body), BENCH_AUTH (the bearer token).
--   requests     completed requests (any status)
--   duration_us  length of the run
--   errors       socket errors: connect, read, write, timeout (no answer within --timeout)
--   non2xx       answers with status >= 400 (wrk's summary.errors.status)
--   latency_us   p50/p90/p99/max/mean request latency in microseconds

wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_AUTH") or "")

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"non2xx":%d,'
      .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean
  ))
end
