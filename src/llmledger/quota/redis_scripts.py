"""The Lua scripts of the Redis quota counters (quota/redis_counters.py), each atomic in Redis.

Keys (``P`` is ``[quotas] redis_prefix``)::

    P:gen                        the generation: a random string set when Redis had none
    P:seq                        a sequence bumped by every change of a counter
    P:keys                       the set of counter keys (what reconciliation walks)
    P:c:<window>:<key>:<subject> a counter: g (generation), io, cache, cost, v (sequence at
                                 the last change), s (subject), f/l (ledger counter range)
    P:h:<subject>                open holds on a subject: ``<request id>|<tokens>|<nano-USD>``
                                 scored by expiry (ms)
    P:hs:<subject>               what they hold together: g, t (tokens), c (nano-USD), kept by
                                 every script that adds or drops a hold (no walk per request)
    P:r:<request id>             a reservation: g, t, c, m (its member in the hold sets),
                                 s (settling since)
    P:d:<request id>             a settled request (a second settle changes nothing)

A counter, hold or reservation of another generation than ``P:gen`` does not count: when
Redis lost ``P:gen`` (flushed, restarted without persistence, a failover that lost writes),
every counter is seeded again from the ledger on its next use.
"""

from __future__ import annotations

__all__ = ["FINISH", "RECONCILE", "RELEASE", "RESERVE", "SETTLING"]

# KEYS: gen, seq, keys, r, d, counters (nc), holds (nh), hold sums (nh)
# ARGV: 1 new gen, 2 now ms, 3 expiry ms, 4 tokens, 5 nano-USD, 6 nc, 7 nh, 8 nl,
#       9 hold-set ttl ms, 10 (unused), 11 request id,
#       then per counter 7: io, cache, cost (the ledger's, to seed), subject, first, last,
#       expire-at ms; then per limit 6: counter index, hold index, mode (t/i/c), multiplier,
#       limit, hard (1/0).
# Returns {status, gen[, limit index, used, held]}: ok, again (held already), done (settled
# already), refused.
RESERVE = """
local gen = redis.call('GET', KEYS[1])
if not gen then
  gen = ARGV[1]
  redis.call('SET', KEYS[1], gen)
end
if redis.call('EXISTS', KEYS[5]) == 1 then return {'done', gen} end
if redis.call('HGET', KEYS[4], 'g') == gen then return {'again', gen} end
local nc, nh, nl = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local io, cache, cost = {}, {}, {}
local seq = nil
for i = 1, nc do
  local key = KEYS[5 + i]
  local a = 12 + (i - 1) * 7
  local v = redis.call('HMGET', key, 'g', 'io', 'cache', 'cost')
  if v[1] ~= gen then
    if not seq then seq = redis.call('INCR', KEYS[2]) end
    redis.call('DEL', key)
    redis.call('HSET', key, 'g', gen, 'io', ARGV[a], 'cache', ARGV[a + 1], 'cost', ARGV[a + 2],
      'v', seq, 's', ARGV[a + 3], 'f', ARGV[a + 4], 'l', ARGV[a + 5])
    redis.call('SADD', KEYS[3], key)
    io[i], cache[i], cost[i] = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  else
    io[i], cache[i], cost[i] = tonumber(v[2]), tonumber(v[3]), tonumber(v[4])
  end
  redis.call('PEXPIREAT', key, ARGV[a + 6])
end
local tokens, nanos = {}, {}
for j = 1, nh do
  local set, sums = KEYS[5 + nc + j], KEYS[5 + nc + nh + j]
  local h = redis.call('HMGET', sums, 'g', 't', 'c')
  local t, c = 0, 0
  if h[1] ~= gen then
    redis.call('DEL', set)
  else
    t, c = tonumber(h[2]), tonumber(h[3])
    local gone = redis.call('ZRANGEBYSCORE', set, '-inf', ARGV[2])
    if #gone > 0 then
      redis.call('ZREMRANGEBYSCORE', set, '-inf', ARGV[2])
      for _, member in ipairs(gone) do
        local _, _, mt, mc = string.find(member, '|(%d+)|(%d+)$')
        t, c = t - tonumber(mt), c - tonumber(mc)
      end
    end
    if redis.call('ZCARD', set) == 0 then t, c = 0, 0 end
  end
  redis.call('HSET', sums, 'g', gen, 't', string.format('%.0f', t), 'c', string.format('%.0f', c))
  tokens[j], nanos[j] = t, c
end
local function units(mode, mult, a, b, c)
  local base
  if mode == 't' then base = a + b elseif mode == 'i' then base = a else base = c end
  if mult ~= 1 then base = math.ceil(base * mult) end
  return base
end
local first = 12 + nc * 7
for k = 1, nl do
  local a = first + (k - 1) * 6
  if ARGV[a + 5] == '1' then
    local ci, hi = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
    local mode, mult = ARGV[a + 2], tonumber(ARGV[a + 3])
    local used = units(mode, mult, io[ci], cache[ci], cost[ci])
    local held = units(mode, mult, tokens[hi], 0, nanos[hi])
    if used + held >= tonumber(ARGV[a + 4]) then
      return {'refused', gen, tostring(k), string.format('%.0f', used),
        string.format('%.0f', held)}
    end
  end
end
local member = ARGV[11] .. '|' .. ARGV[4] .. '|' .. ARGV[5]
redis.call('HSET', KEYS[4], 'g', gen, 't', ARGV[4], 'c', ARGV[5], 'm', member)
redis.call('PEXPIREAT', KEYS[4], ARGV[3])
for j = 1, nh do
  local set, sums = KEYS[5 + nc + j], KEYS[5 + nc + nh + j]
  redis.call('ZADD', set, ARGV[3], member)
  redis.call('HINCRBY', sums, 't', ARGV[4])
  redis.call('HINCRBY', sums, 'c', ARGV[5])
  redis.call('PEXPIRE', set, ARGV[9])
  redis.call('PEXPIRE', sums, ARGV[9])
end
return {'ok', gen}
"""

# KEYS: gen, r. ARGV: now ms. Marks the reservation as settling: its event is being written
# to the ledger, so reconciliation leaves its subjects' counters alone until it is applied.
SETTLING = """
local gen = redis.call('GET', KEYS[1])
if gen and redis.call('HGET', KEYS[2], 'g') == gen then
  redis.call('HSET', KEYS[2], 's', ARGV[1])
  return 1
end
return 0
"""

# KEYS: gen, seq, r, d, counters (nc), holds (nh), hold sums (nh)
# ARGV: 1 request id, 2 io, 3 cache, 4 cost, 5 nc, 6 nh, 7 done ttl ms
# Adds the real usage to the counters (only for a reservation of this generation: one that
# expired or was lost is left to reconciliation, the ledger has its event) and drops the
# holds; returns 1 when counters moved. A second call changes nothing.
FINISH = """
if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
local nc, nh = tonumber(ARGV[5]), tonumber(ARGV[6])
local gen = redis.call('GET', KEYS[1])
local applied = 0
if gen and redis.call('HGET', KEYS[3], 'g') == gen then
  local seq = redis.call('INCR', KEYS[2])
  for i = 1, nc do
    local key = KEYS[4 + i]
    if redis.call('HGET', key, 'g') == gen then
      redis.call('HINCRBY', key, 'io', ARGV[2])
      redis.call('HINCRBY', key, 'cache', ARGV[3])
      redis.call('HINCRBY', key, 'cost', ARGV[4])
      redis.call('HSET', key, 'v', seq)
      applied = 1
    end
  end
end
local r = redis.call('HMGET', KEYS[3], 'g', 't', 'c', 'm')
if gen and r[1] == gen then
  for j = 1, nh do
    if redis.call('ZREM', KEYS[4 + nc + j], r[4]) == 1 then
      redis.call('HINCRBY', KEYS[4 + nc + nh + j], 't', 0 - tonumber(r[2]))
      redis.call('HINCRBY', KEYS[4 + nc + nh + j], 'c', 0 - tonumber(r[3]))
    end
  end
end
redis.call('DEL', KEYS[3])
redis.call('SET', KEYS[4], '1', 'PX', ARGV[7])
return applied
"""

# KEYS: gen, r, holds (n), hold sums (n). ARGV: n. Drops a reservation that ends without usage.
RELEASE = """
local n = tonumber(ARGV[1])
local gen = redis.call('GET', KEYS[1])
local r = redis.call('HMGET', KEYS[2], 'g', 't', 'c', 'm')
if gen and r[1] == gen then
  for j = 1, n do
    if redis.call('ZREM', KEYS[2 + j], r[4]) == 1 then
      redis.call('HINCRBY', KEYS[2 + n + j], 't', 0 - tonumber(r[2]))
      redis.call('HINCRBY', KEYS[2 + n + j], 'c', 0 - tonumber(r[3]))
    end
  end
end
return redis.call('DEL', KEYS[2])
"""

# KEYS: gen, seq, keys, counters (n)
# ARGV: 1 now ms, 2 request key prefix, 3 hold key prefix, 4 n,
#       then per counter 5: generation and sequence seen before the ledger was read, io,
#       cache, cost (the ledger's).
# Sets each counter to the ledger's value unless it changed since it was seen or a request on
# its subject is between its ledger write and its counters (those are retried next time).
# Returns {corrected, skipped, dropped}.
RECONCILE = """
local gen = redis.call('GET', KEYS[1])
local fixed, skipped, dropped = 0, 0, 0
for i = 1, tonumber(ARGV[4]) do
  local key = KEYS[3 + i]
  local a = 5 + (i - 1) * 5
  local v = redis.call('HMGET', key, 'g', 'v', 'io', 'cache', 'cost', 's')
  if not v[1] or v[1] ~= gen then
    redis.call('DEL', key)
    redis.call('SREM', KEYS[3], key)
    dropped = dropped + 1
  elseif v[1] ~= ARGV[a] or v[2] ~= ARGV[a + 1] then
    skipped = skipped + 1
  else
    local busy = false
    for _, member in ipairs(redis.call('ZRANGEBYSCORE', ARGV[3] .. v[6], '(' .. ARGV[1], '+inf')) do
      local rid = string.match(member, '^(.*)|%d+|%d+$')
      if redis.call('HEXISTS', ARGV[2] .. rid, 's') == 1 then
        busy = true
        break
      end
    end
    if busy then
      skipped = skipped + 1
    elseif v[3] ~= ARGV[a + 2] or v[4] ~= ARGV[a + 3] or v[5] ~= ARGV[a + 4] then
      redis.call('HSET', key, 'io', ARGV[a + 2], 'cache', ARGV[a + 3], 'cost', ARGV[a + 4],
        'v', redis.call('INCR', KEYS[2]))
      fixed = fixed + 1
    end
  end
end
return {fixed, skipped, dropped}
"""
