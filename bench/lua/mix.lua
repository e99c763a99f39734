-- wrk script for the hkv benchmarks: a random mix of GETs and writes of 100-byte values.
--
--   wrk -t1 -c64 -d5 -s mix.lua http://127.0.0.1:PORT -- STYLE DEPTH GET_PCT KEYS
--
-- STYLE  hkv     GET /get/{key}, POST /store/{key}
--        webdis  GET /GET/{key}, PUT /SET/{key} (the body is the value)
-- DEPTH  requests per request() call: 1 = no pipelining, 10 = ten pipelined requests
--        (wrk counts them and waits for all ten responses before the next batch)
-- GET_PCT percentage of GETs (default 80); the rest are writes
-- KEYS   keys key000000 .. key(KEYS-1), picked uniformly at random (default 100000)
--
-- done() prints "LAT p50 p99 p99.9" in microseconds for bench/lib/measure.py.

local style, depth, get_pct, nkeys = "hkv", 1, 80, 100000
local body = string.rep("0123456789", 10)
local thread_no = 0

function setup(thread)
   thread_no = thread_no + 1
   thread:set("tid", thread_no)
end

function init(args)
   style = args[1] or style
   depth = tonumber(args[2] or depth)
   get_pct = tonumber(args[3] or get_pct)
   nkeys = tonumber(args[4] or nkeys)
   math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
end

local function one()
   local key = string.format("key%06d", math.random(0, nkeys - 1))
   if math.random(1, 100) <= get_pct then
      if style == "webdis" then
         return wrk.format("GET", "/GET/" .. key)
      end
      return wrk.format("GET", "/get/" .. key)
   end
   if style == "webdis" then
      return wrk.format("PUT", "/SET/" .. key, nil, body)
   end
   return wrk.format("POST", "/store/" .. key, nil, body)
end

function request()
   if depth == 1 then
      return one()
   end
   local r = {}
   for i = 1, depth do
      r[i] = one()
   end
   return table.concat(r)
end

-- Percentiles are computed here from wrk's histogram (value, count) pairs rather than
-- with latency:percentile(), which returns 0 when wrk's coordinated-omission
-- correction has moved samples below the recorded minimum (it does under pipelining).
function done(summary, latency, requests)
   local n = #latency
   local total = 0
   for i = 1, n do
      local _, c = latency(i)
      total = total + c
   end
   local want = { 50, 99, 99.9 }
   local out = { 0, 0, 0 }
   local k, seen = 1, 0
   for i = 1, n do
      local v, c = latency(i)
      seen = seen + c
      while k <= 3 and seen >= total * want[k] / 100 do
         out[k] = v
         k = k + 1
      end
      if k > 3 then break end
   end
   io.write(string.format("LAT %d %d %d\n", out[1], out[2], out[3]))
end
