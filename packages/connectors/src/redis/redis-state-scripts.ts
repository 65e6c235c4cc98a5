/**
 * Lua scripts of {@link RedisStateStore}. Each runs atomically on the server; none fails half-way on valid input
 * (values are validated and encoded by the client before a script is called, and every key a script touches has the
 * type the store gave it), which is what makes `apply`, `snapshot` and `restore` all-or-nothing.
 *
 * Layout of one scope (P = key prefix, E = the scope with `%`, `{`, `}` percent-encoded):
 *   P{E}:v                      hash: entry key -> JSON value
 *   P{E}:k                      sorted set of entry keys, all with score 0, for ordered prefix scans (ZRANGEBYLEX)
 *   P{E}:x                      sorted set: entry key -> expiry time (ms, processing time) for entries with a TTL
 *   P{E}:snapshots              sorted set: checkpoint id -> checkpoint id
 *   P{E}:snapshot:<id>:v|k|x    the three live keys as they were at checkpoint <id> (COPY)
 *   Pscopes                     sorted set of the E of every scope holding live entries or snapshots
 *
 * @internal
 * @module
 */

/** Helpers shared by the scripts. `purge` removes entries whose expiry is at or before `now`. */
const common = `
local function purge(v, k, x, now, limit)
  local expired
  if limit > 0 then
    expired = redis.call('ZRANGEBYSCORE', x, '-inf', now, 'LIMIT', 0, limit)
  else
    expired = redis.call('ZRANGEBYSCORE', x, '-inf', now)
  end
  for i = 1, #expired, 500 do
    local last = math.min(i + 499, #expired)
    redis.call('HDEL', v, unpack(expired, i, last))
    redis.call('ZREM', k, unpack(expired, i, last))
    redis.call('ZREM', x, unpack(expired, i, last))
  end
  return #expired
end
local function track(registry, member, v, snapshots)
  if redis.call('EXISTS', v) == 0 and redis.call('EXISTS', snapshots) == 0 then
    redis.call('ZREM', registry, member)
  else
    redis.call('ZADD', registry, 0, member)
  end
end
`;

/**
 * KEYS: v, x. ARGV: entry key, now. The JSON value, or nil when absent or expired. Read-only.
 */
export const getScript = `
local value = redis.call('HGET', KEYS[1], ARGV[1])
if not value then return false end
local expires = redis.call('ZSCORE', KEYS[2], ARGV[1])
if expires and tonumber(expires) <= tonumber(ARGV[2]) then return false end
return value
`;

/**
 * KEYS: v, k, x. ARGV: lower bound (`-`, `[prefix` or `(lastKey`), prefix, now, page size.
 * Returns { keys read, last key read, key1, value1, ... } with expired entries left out. Read-only.
 */
export const scanPageScript = `
local upper = '+'
if ARGV[2] ~= '' then upper = '(' .. ARGV[2] .. '\\255' end
local keys = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[1], upper, 'LIMIT', 0, tonumber(ARGV[4]))
local now = tonumber(ARGV[3])
local out = { #keys, keys[#keys] or '' }
for _, key in ipairs(keys) do
  local expires = redis.call('ZSCORE', KEYS[3], key)
  if not expires or tonumber(expires) > now then
    local value = redis.call('HGET', KEYS[1], key)
    if value then
      out[#out + 1] = key
      out[#out + 1] = value
    end
  end
end
return out
`;

/**
 * KEYS: v, k, x, snapshots, registry. ARGV: now, scope member, then groups of four: op (`p` | `d`), key, JSON value,
 * expiry ('' for none). Purges up to 1000 expired entries first.
 */
export const applyScript = `${common}
local v, k, x = KEYS[1], KEYS[2], KEYS[3]
purge(v, k, x, ARGV[1], 1000)
for i = 3, #ARGV, 4 do
  local key = ARGV[i + 1]
  if ARGV[i] == 'p' then
    redis.call('HSET', v, key, ARGV[i + 2])
    redis.call('ZADD', k, 0, key)
    if ARGV[i + 3] == '' then
      redis.call('ZREM', x, key)
    else
      redis.call('ZADD', x, ARGV[i + 3], key)
    end
  else
    redis.call('HDEL', v, key)
    redis.call('ZREM', k, key)
    redis.call('ZREM', x, key)
  end
end
track(KEYS[5], ARGV[2], v, KEYS[4])
return 1
`;

/** KEYS: v, k, x, snapshots, registry, snapshot v, snapshot k, snapshot x. ARGV: now, scope member, checkpoint id. */
export const snapshotScript = `${common}
purge(KEYS[1], KEYS[2], KEYS[3], ARGV[1], 0)
redis.call('DEL', KEYS[6], KEYS[7], KEYS[8])
redis.call('COPY', KEYS[1], KEYS[6])
redis.call('COPY', KEYS[2], KEYS[7])
redis.call('COPY', KEYS[3], KEYS[8])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[3])
track(KEYS[5], ARGV[2], KEYS[1], KEYS[4])
return 1
`;

/**
 * KEYS: as {@link snapshotScript}. ARGV: now, scope member, checkpoint id. Replaces the live keys with the snapshot's
 * (or empties them when there is no such snapshot); returns 1 when the snapshot existed, else 0.
 */
export const restoreScript = `${common}
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
local found = redis.call('ZSCORE', KEYS[4], ARGV[3])
if found then
  redis.call('COPY', KEYS[6], KEYS[1])
  redis.call('COPY', KEYS[7], KEYS[2])
  redis.call('COPY', KEYS[8], KEYS[3])
  purge(KEYS[1], KEYS[2], KEYS[3], ARGV[1], 0)
end
track(KEYS[5], ARGV[2], KEYS[1], KEYS[4])
if found then return 1 end
return 0
`;

/**
 * KEYS: v, snapshots, registry. ARGV: scope member, checkpoint id, snapshot key base (`P{E}:snapshot:`). Deletes the
 * snapshots with an id below the given one; returns how many.
 */
export const discardScript = `${common}
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2])
for _, id in ipairs(ids) do
  redis.call('DEL', ARGV[3] .. id .. ':v', ARGV[3] .. id .. ':k', ARGV[3] .. id .. ':x')
  redis.call('ZREM', KEYS[2], id)
end
track(KEYS[3], ARGV[1], KEYS[1], KEYS[2])
return #ids
`;

/**
 * KEYS: registry. ARGV: key prefix, now. Purges expired entries of every scope, forgets scopes left empty, and returns
 * { entries purged, member1, member2, ... } for the scopes that remain.
 */
export const scopesScript = `${common}
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = { 0 }
for _, member in ipairs(members) do
  local base = ARGV[1] .. '{' .. member .. '}:'
  out[1] = out[1] + purge(base .. 'v', base .. 'k', base .. 'x', ARGV[2], 0)
  if redis.call('EXISTS', base .. 'v') == 0 and redis.call('EXISTS', base .. 'snapshots') == 0 then
    redis.call('ZREM', KEYS[1], member)
  else
    out[#out + 1] = member
  end
end
return out
`;
