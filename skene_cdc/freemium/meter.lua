-- skene freemium meter: check-and-count one request in one round trip, atomically.
--
-- KEYS[1]  the user's plan hash (fields: plan, anchor = billing anchor in epoch seconds)
-- KEYS[2]  the usage stream the listener drains into skene.events
-- ARGV[1]  counter key prefix for (loop, step, user); the window start is appended
-- ARGV[2]  free limit, ARGV[3] paid limit (-1 = unlimited)
-- ARGV[4]  period in seconds, 0 = monthly
-- ARGV[5]  event name, ARGV[6] loop, ARGV[7] step, ARGV[8] user id
-- ARGV[9]  "now" in ms for tests, 0 = the server's clock (TIME)
-- ARGV[10] seconds to keep a counter after its window ends
-- ARGV[11] 1: when the plan is unknown and the request would be blocked, change nothing and
--          return allowed = 2, so the caller can load the plan from PostgreSQL and ask again
--
-- Returns {allowed 1|0|2|3, used, limit (-1 = unlimited), window start, window end, plan known 1|0,
-- blocked count in this window (0 when allowed), note}. `used` is the counter's own text, so a
-- huge count reaches the caller exactly (a Lua number past 2^53 would not, and past 2^63 would
-- wrap to a negative integer reply).
-- allowed = 3: the counter holds something that is not a count (someone wrote to skene's key);
-- nothing was changed and `note` is 'corrupt'. The caller decides as if Redis were down.
-- note = 'saturated': the counter is at or past 2^53, beyond what this script counts exactly;
-- it is not incremented (INCR would fail at 2^63-1) and the request is decided by the limit.
--
-- Windows: a fixed period repeats from the billing anchor when the plan hash has one, else from
-- the Unix epoch. Monthly windows start on the anchor's day of month and time of day (clamped to
-- the month's last day, as Stripe does), or on the 1st at 00:00 UTC without an anchor.

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
                          - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function month_start(y, m, day, secs)
  local ny, nm = y, m + 1
  if nm > 12 then ny, nm = y + 1, 1 end
  local last = days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)
  return days_from_civil(y, m, math.min(day, last)) * 86400 + secs
end

local function window(now, period, anchor)
  if period > 0 then
    local base = anchor or 0
    local s = base + math.floor((now - base) / period) * period
    return s, s + period
  end
  local day, secs = 1, 0
  if anchor then
    local ad = math.floor(anchor / 86400)
    local _, _, d = civil_from_days(ad)
    day, secs = d, anchor - ad * 86400
  end
  local y, m = civil_from_days(math.floor(now / 86400))
  local s = month_start(y, m, day, secs)
  if s > now then
    m = m - 1
    if m < 1 then y, m = y - 1, 12 end
    s = month_start(y, m, day, secs)
  end
  local ny, nm = y, m + 1
  if nm > 12 then ny, nm = y + 1, 1 end
  return s, month_start(ny, nm, day, secs)
end

local info = redis.call('HMGET', KEYS[1], 'plan', 'anchor')
local plan, known = info[1], 1
if not plan then plan, known = 'free', 0 end
local anchor = tonumber(info[2])

local now_ms = tonumber(ARGV[9])
if now_ms == 0 then
  local t = redis.call('TIME')
  now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local ws, we = window(math.floor(now_ms / 1000), tonumber(ARGV[4]), anchor)
local limit = tonumber(ARGV[2])
if plan == 'paid' then limit = tonumber(ARGV[3]) end
local key = ARGV[1] .. ':' .. ws
local expire_at = we + tonumber(ARGV[10])

local raw = redis.call('GET', key) or '0'
if type(raw) ~= 'string' or not string.match(raw, '^%d+$') or #raw > 19
   or (#raw > 1 and string.sub(raw, 1, 1) == '0')
   or (#raw == 19 and raw > '9223372036854775807') then
  return {3, 0, limit, ws, we, known, 0, 'corrupt'}
end
local saturated = #raw > 16 or tonumber(raw) >= 9007199254740992

if limit >= 0 then
  local used = tonumber(raw)
  if used >= limit then
    if known == 0 and ARGV[11] == '1' then return {2, raw, limit, ws, we, 0, 0, ''} end
    local bkey = key .. ':blocked'
    local blocked = redis.call('INCR', bkey)
    if blocked == 1 then redis.call('EXPIREAT', bkey, expire_at) end
    redis.call('XADD', KEYS[2], '*', 'k', 'b', 'e', ARGV[5], 'l', ARGV[6], 's', ARGV[7],
               'u', ARGV[8], 't', now_ms, 'ws', ws, 'we', we, 'n', raw, 'L', limit,
               'p', plan, 'b', blocked)
    return {0, raw, limit, ws, we, known, blocked, saturated and 'saturated' or ''}
  end
end
if saturated then
  return {1, raw, limit, ws, we, known, 0, 'saturated'}
end

local used = redis.call('INCR', key)
if used == 1 then redis.call('EXPIREAT', key, expire_at) end
redis.call('XADD', KEYS[2], '*', 'k', 'u', 'e', ARGV[5], 'l', ARGV[6], 's', ARGV[7],
           'u', ARGV[8], 't', now_ms, 'ws', ws, 'we', we, 'n', used, 'L', limit, 'p', plan)
return {1, used, limit, ws, we, known, 0, ''}
