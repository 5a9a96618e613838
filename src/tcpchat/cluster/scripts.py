"""The Lua scripts every node runs against Redis, one per step of a node's life.

Each runs atomically in Redis, and each takes the time from `redis.call('TIME')`, never from
the calling node: a node's clock may be off, or the node paused, and Redis's clock is the
one every node is judged by. All take `keys.NODE_KEYS` as KEYS (nodes, heartbeats, node-seq).

Fencing: a node's epoch is the number its JOIN drew from the counter, so every join gets a
higher one than all before it, and with it a random token of the node's own (the counter
starts again if Redis loses its data; the token tells two nodes that drew one number
apart). HEARTBEAT and LEAVE check the caller's epoch and token against the node's record
first; a node that was reaped (or replaced) is refused with an error reply starting
`FENCED`, and must rejoin as a new node rather than write with its old epoch. Later
slices' scripts (nicks, channels) will make the same check first.
"""

from __future__ import annotations

FENCED = "FENCED"  # the first word of the error reply a fenced node gets

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# ARGV: host, pid, token. Returns {node id, epoch}.
JOIN = (
    _NOW
    + """
local id = redis.call('INCR', KEYS[3])
local record = {epoch = id, host = ARGV[1], pid = tonumber(ARGV[2]), token = ARGV[3],
                started = now, users = 0}
redis.call('HSET', KEYS[1], id, cjson.encode(record))
redis.call('ZADD', KEYS[2], now, id)
return {id, id}
"""
)

# ARGV: node id, epoch, users, token. Returns Redis's time (ms); FENCED when the node is
# gone or has another epoch or token.
HEARTBEAT = (
    """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then
  return redis.error_reply('FENCED node ' .. ARGV[1] .. ' is no longer in the cluster')
end
local record = cjson.decode(raw)
if record.epoch ~= tonumber(ARGV[2]) or record.token ~= ARGV[4] then
  return redis.error_reply('FENCED node ' .. ARGV[1] .. ' has another epoch or token')
end
"""
    + _NOW
    + """
record.users = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
redis.call('ZADD', KEYS[2], now, ARGV[1])
return now
"""
)

# The nicks node `id` held are free again (it was reaped, or it left): each one still its.
_FREE_NICKS_OF = """
local function free_nicks_of(id)
  local held = 'tcpchat:node-nicks:' .. id
  for _, nick in ipairs(redis.call('SMEMBERS', held)) do
    local owner = redis.call('HGET', 'tcpchat:nicks', nick)
    if owner and string.sub(owner, 1, string.len(id) + 1) == id .. ':' then
      redis.call('HDEL', 'tcpchat:nicks', nick)
    end
  end
  redis.call('DEL', held)
end
"""

# ARGV: timeout (ms). Removes every node whose heartbeat is older than the timeout and
# returns their ids. Atomic, so two nodes reaping at once each get a share, never the same
# node twice, and reaping again finds nothing more.
REAP = (
    _NOW
    + _FREE_NICKS_OF
    + """
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. (now - tonumber(ARGV[1])))
for _, id in ipairs(dead) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[1], id)
  free_nicks_of(id)
  redis.call('HDEL', 'tcpchat:bus-batches', id)
  redis.call('SREM', 'tcpchat:bus-ready', id)
end
return dead
"""
)

# ARGV: node id, epoch, token. Returns 1 if the node left, 0 if it was already gone (or
# fenced).
LEAVE = (
    _FREE_NICKS_OF
    + """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local record = raw and cjson.decode(raw)
if not record or record.epoch ~= tonumber(ARGV[2]) or record.token ~= ARGV[3] then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
free_nicks_of(ARGV[1])  -- its users quit as it left: their nicks are free at once
redis.call('SREM', 'tcpchat:bus-ready', ARGV[1])
redis.call('HDEL', 'tcpchat:bus-batches', ARGV[1])
return 1
"""
)

# ARGV: node id, epoch, token first. Refuses a node that is not (or no longer) a member.
_IS_MEMBER = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local record = raw and cjson.decode(raw)
if not record or record.epoch ~= tonumber(ARGV[2]) or record.token ~= ARGV[3] then
  return redis.error_reply('FENCED node ' .. ARGV[1] .. ' is not this node any more')
end
"""
_MEMBER = _IS_MEMBER + """
local owner = ARGV[1] .. ':' .. ARGV[5]
"""

# The nick ARGV[4] is `owner`'s now, and the one it had (ARGV[6]) let go if it was theirs.
_GIVE_NICK = """
redis.call('HSET', KEYS[2], ARGV[4], owner)
redis.call('SADD', KEYS[3], ARGV[4])
if ARGV[6] ~= '' and ARGV[6] ~= ARGV[4] and redis.call('HGET', KEYS[2], ARGV[6]) == owner then
  redis.call('HDEL', KEYS[2], ARGV[6])
  redis.call('SREM', KEYS[3], ARGV[6])
end
return 1
"""

# KEYS: nodes, nicks, node_nicks(node). ARGV: node id, epoch, token, folded nick, uid, the
# folded nick it had ("" for none). Returns 1 when the nick is now this user's (it already
# was, or was free), 0 when someone else holds it; FENCED for a node that is not a member.
# The old nick is let go in the same step, so a rename is never two nicks or none.
CLAIM_NICK = (
    _MEMBER
    + """
local holder = redis.call('HGET', KEYS[2], ARGV[4])
if holder and holder ~= owner then
  return 0
end
"""
    + _GIVE_NICK
)

# KEYS, ARGV: as CLAIM_NICK's first five. Lets the nick go if this user holds it; 1 if so.
RELEASE_NICK = (
    _MEMBER
    + """
if redis.call('HGET', KEYS[2], ARGV[4]) ~= owner then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[4])
redis.call('SREM', KEYS[3], ARGV[4])
return 1
"""
)


# KEYS: keys.BUS_KEYS. ARGV: node id, epoch, token, batch number, event count, payload,
# the bus's length to keep. Appends one batch of a node's events to the bus under the next
# sequence number and returns it; 0 when this batch number was appended already (the node
# retried after losing the answer). The epoch is checked first: a fenced node's batch is
# refused, so nothing it did while declared dead reaches anyone.
APPEND = (
    _IS_MEMBER
    + """
local last = tonumber(redis.call('HGET', KEYS[5], ARGV[1]) or '0')
if tonumber(ARGV[4]) <= last then
  return 0
end
local seq = redis.call('INCR', KEYS[4])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[7], '0-' .. seq,
           'n', ARGV[1], 'k', ARGV[5], 'p', ARGV[6])
redis.call('HSET', KEYS[5], ARGV[1], ARGV[4])
return seq
"""
)

# KEYS: keys.BUS_KEYS. ARGV: node id, epoch, token. A joining node's hello: appended to the
# bus like any batch, naming the live node that knows the network (the lowest id in
# bus-ready; a node that is itself waiting for a snapshot can't give one) that answers it with
# a snapshot of the network as of that place in the bus. Returns {sequence, that node's
# id or '' when this node is alone}.
HELLO = (
    _IS_MEMBER
    + """
local answering = ''
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if id ~= ARGV[1] and redis.call('SISMEMBER', KEYS[6], id) == 1
     and (answering == '' or tonumber(id) < tonumber(answering)) then
    answering = id
  end
end
local seq = redis.call('INCR', KEYS[4])
redis.call('XADD', KEYS[3], '0-' .. seq, 'n', ARGV[1], 'k', '0', 'h', answering)
return {seq, answering}
"""
)

# KEYS: keys.BUS_KEYS. ARGV: node id, epoch, token. The node knows the network now (it took
# in its snapshot): it may answer hellos.
READY = (
    _IS_MEMBER
    + """
redis.call('SADD', KEYS[6], ARGV[1])
return 1
"""
)

# KEYS: nodes, nicks, node_nicks(the user's node). ARGV: as CLAIM_NICK's six, then the
# user's node. A nick the server gives (a guest nick, or an account's nick taken back with
# REGAIN from whoever held it) is the user's whoever held it: set, not asked for, and the
# old one let go in the same step. The caller may be another node than the user's.
TAKE_NICK = (
    _MEMBER
    + """
owner = ARGV[7] .. ':' .. ARGV[5]
"""
    + _GIVE_NICK
)

# No ARGV. Returns {Redis time (ms), HGETALL nodes, ZRANGE heartbeats WITHSCORES}: one
# consistent snapshot for `tcpchat cluster status`.
STATUS = (
    _NOW
    + """
return {now, redis.call('HGETALL', KEYS[1]), redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')}
"""
)
