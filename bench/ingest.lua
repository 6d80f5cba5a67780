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
  created, repeated, other = 0, 0, 0
  codes = {}
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  i = i + 1
  if i > #tokens then i = 1 end  -- out of tokens: repeats answer 200, counted as repeats
  return wrk.format(nil, "/v1/consents", nil, '{"token":"' .. tokens[i] .. '"}')
end

-- Every answer is counted by its status: 201 (a new record), 200 (a repeated event_id),
-- anything else (non-2xx; wrk's own error count sees only statuses above 399).
function response(status, headers, body)
  if status == 201 then created = created + 1
  elseif status == 200 then repeated = repeated + 1
  else
    other = other + 1
    codes[status] = (codes[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local c, r, o, all = 0, 0, 0, {}
  for _, t in ipairs(threads) do
    c = c + (t:get("created") or 0)
    r = r + (t:get("repeated") or 0)
    o = o + (t:get("other") or 0)
    for status, n in pairs(t:get("codes") or {}) do all[status] = (all[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(all) do parts[#parts + 1] = string.format('"%d":%d', status, n) end
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non2xx":%d,"status_errors":%d,"created":%d,' ..
    '"repeated":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"codes":{%s}}\n',
    summary.requests, summary.duration, o, summary.errors.status, c, r,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, table.concat(parts, ",")))
end
