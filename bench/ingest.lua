-- wrk script: POST distinct pre-signed consent tokens, one file of tokens per wrk thread.
-- Run by bench/ingest.py; prints a JSON summary line at the end.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  tokens = {}
  for line in io.lines(os.getenv("SP_TOKENS_DIR") .. "/tokens_" .. id .. ".txt") do
    tokens[#tokens + 1] = line
  end
  i = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  i = i + 1
  if i > #tokens then i = 1 end  -- out of tokens: repeats answer 200, counted as repeats
  return wrk.format(nil, "/v1/consents", nil, '{"token":"' .. tokens[i] .. '"}')
end

function response(status, headers, body)
  if status == 201 then created = (created or 0) + 1 end
end

function done(summary, latency, requests)
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non2xx":%d,"connect_errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
