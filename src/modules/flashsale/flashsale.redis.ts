import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../../shared/redis';
import type { LineEntry } from './flashsale.store';

/**
 * The Redis side of a flash sale: the gate that decides entries, and the line it appends them to.
 *
 * Keys of one sale share a hash tag, so a script touching them runs on one node of a cluster:
 *   fs:{id}:meta  hash   startsAt endsAt (ms), capacity, limit, units, seq, head, soldOut,
 *                        epoch (which copy this is), pgDecided (flash_sale.pg_decided it was
 *                        built from), frozenUntil and frozenBy (while being reconciled)
 *   fs:{id}:cust  hash   customer id -> units accepted
 *   fs:{id}:ent   hash   entry id -> "customer:quantity:seq" (the entry id is derived from the
 *                        customer and the idempotency key, so this is also the idempotency record)
 *   fs:{id}:line  stream the accepted entries, in order, until they are persisted
 *
 * Every script gets all four keys in KEYS and builds none itself, so the scripts run unchanged on
 * Redis Cluster (test/unit/flash-sale-config.test.ts checks it).
 */

export const keysFor = (prefix: string) => (saleId: string) => {
  const t = `${prefix}:{${saleId}}`;
  return [`${t}:meta`, `${t}:cust`, `${t}:ent`, `${t}:line`];
};

/**
 * The decisions of a batch of entries (in the order given), each atomically as if alone: frozen
 * (being reconciled: retry in a moment), a repeated key (the stored entry), outside the window,
 * sold out or the line full, over the customer's limit; else the entry is counted and appended to
 * the line. ARGV: now (ms), then customer, key, quantity, entry id for each entry. One call decides
 * every entry that arrived in the same moment, so a crowd costs a few scripts, not one per shopper.
 */
const ENTER = `
local m = redis.call('HMGET', KEYS[1], 'startsAt', 'endsAt', 'capacity', 'units', 'limit', 'soldOut', 'frozenUntil', 'head', 'epoch', 'variant')
local n = (#ARGV - 1) / 4
local out = {}
local now = tonumber(ARGV[1])
local early = nil
if not m[1] then early = 'NOSALE' elseif m[7] and tonumber(m[7]) > now then early = 'FROZEN' end
if early then
  for i = 1, n do out[i] = {early} end
  return out
end
local startsAt, endsAt, capacity, limit = tonumber(m[1]), tonumber(m[2]), tonumber(m[3]), tonumber(m[5])
local units0 = tonumber(m[4])
local units = units0
local head, epoch = m[8] or '0', m[9] or ''
for i = 1, n do
  local b = 1 + (i - 1) * 4
  local cust, key, qty, id = ARGV[b + 1], ARGV[b + 2], tonumber(ARGV[b + 3]), ARGV[b + 4]
  local prior = redis.call('HGET', KEYS[3], id)
  if prior then
    out[i] = {'DUP', prior, head, epoch}
  elseif now < startsAt or now >= endsAt then
    out[i] = {'NOT_ACTIVE'}
  elseif m[6] == '1' or qty > capacity - units then
    out[i] = {'SOLD_OUT', tostring(capacity - units), m[10] or ''}
  else
    local mine = tonumber(redis.call('HGET', KEYS[2], cust) or '0')
    if mine + qty > limit then
      out[i] = {'LIMIT', tostring(mine), m[5]}
    else
      local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
      units = units + qty
      redis.call('HINCRBY', KEYS[2], cust, qty)
      local rec = cust .. ':' .. ARGV[b + 3] .. ':' .. seq
      redis.call('HSET', KEYS[3], id, rec)
      redis.call('XADD', KEYS[4], '*', 'e', id, 'c', cust, 'k', key, 'q', ARGV[b + 3], 's', seq, 't', ARGV[1])
      out[i] = {'QUEUED', rec, head, epoch}
    end
  end
end
if units ~= units0 then redis.call('HSET', KEYS[1], 'units', units) end
return out
`;

/*
 * A copy exists when its meta hash holds startsAt (what ENTER reads first): a hash with some other
 * field alone is not a copy, and only LOAD writes startsAt.
 */

/** Freezes the gate for a reconciliation (returns the token), or nil when there is no copy. */
const FREEZE = `
if redis.call('HEXISTS', KEYS[1], 'startsAt') == 0 then return false end
redis.call('HSET', KEYS[1], 'frozenUntil', ARGV[1], 'frozenBy', ARGV[2])
return ARGV[2]
`;

/**
 * Replaces the sale's copy with the state rebuilt from PostgreSQL. Without a token: only if there
 * is no copy. With one: only if the copy is still the one this reconciliation froze and its line
 * holds nothing after the last entry the caller persisted (ARGV[2]); an entry accepted after the
 * freeze ran out would otherwise vanish with the old line. The caller then starts again.
 */
const LOAD = `
local exists = redis.call('HEXISTS', KEYS[1], 'startsAt') == 1
if ARGV[1] == '' then
  if exists then return 0 end
else
  if (not exists) or redis.call('HGET', KEYS[1], 'frozenBy') ~= ARGV[1] then return 0 end
  local last = redis.call('XREVRANGE', KEYS[4], '+', '-', 'COUNT', 1)
  if #last > 0 and last[1][1] ~= ARGV[2] then return 0 end
end
local d = cjson.decode(ARGV[3])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('HSET', KEYS[1], 'variant', d.variant, 'startsAt', d.startsAt, 'endsAt', d.endsAt, 'capacity', d.capacity, 'limit', d.limit,
  'units', d.units, 'seq', d.seq, 'head', d.head, 'soldOut', d.soldOut, 'epoch', d.epoch, 'pgDecided', d.pgDecided)
for i = 1, #d.customers do redis.call('HSET', KEYS[2], d.customers[i][1], d.customers[i][2]) end
for i = 1, #d.entries do redis.call('HSET', KEYS[3], d.entries[i][1], d.entries[i][2]) end
return 1
`;

/**
 * The copy's epoch, sold-out flag and the PostgreSQL decision count it was built from, and the
 * line after the cursor (the whole line when the cursor is of another copy).
 */
const READ = `
local m = redis.call('HMGET', KEYS[1], 'epoch', 'soldOut', 'pgDecided')
if not m[1] then return {false, '0', '0', {}} end
local from = '-'
if ARGV[1] == m[1] then from = '(' .. ARGV[2] end
return {m[1], m[2] or '0', m[3] or '0', redis.call('XRANGE', KEYS[4], from, '+', 'COUNT', ARGV[3])}
`;

/** An entry still waiting in this copy's line (the copy of that epoch, with the entry recorded). */
const PENDING = `
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 0 then return 0 end
return 1
`;

/**
 * Sets one field of a copy's meta hash, only if there is a copy: after Redis restarted empty, the
 * worker's new head or a sold-out flag must not create a hash that would pass for a copy.
 */
const SET_META = `
if redis.call('HEXISTS', KEYS[1], 'startsAt') == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/** Every script, by name (a unit test checks that each touches only the keys it is given). */
export const SCRIPTS = { ENTER, FREEZE, LOAD, READ, PENDING, SET_META };

export type GateReply =
  | { kind: 'NOSALE' | 'FROZEN' | 'NOT_ACTIVE' }
  | { kind: 'DUP' | 'QUEUED'; customerId: string; quantity: number; seq: number; head: number; epoch: string }
  | { kind: 'SOLD_OUT'; left: number; variantId: string }
  | { kind: 'LIMIT'; held: number; limit: number };

export interface SaleCopy {
  variant: string;
  startsAt: number;
  endsAt: number;
  capacity: number;
  limit: number;
  units: number;
  seq: number;
  head: number;
  soldOut: 0 | 1;
  /** flash_sale.pg_decided when the copy was built (a larger value later means: rebuild). */
  pgDecided: number;
  customers: [string, number][];
  entries: [string, string][];
}

export interface LineRead {
  /** The copy's epoch (null: no copy). */
  epoch: string | null;
  soldOut: boolean;
  pgDecided: number;
  entries: LineEntry[];
  /** "epoch:stream id" of the last entry read (the position to persist). */
  cursor: string;
  /** The stream id alone (what LOAD compares with the line's last entry). */
  streamId: string;
}

type Scripted = RedisClient & {
  fsEnter(...a: string[]): Promise<string[][]>;
  fsFreeze(...a: string[]): Promise<string | null>;
  fsLoad(...a: string[]): Promise<number>;
  fsRead(...a: string[]): Promise<[string | null, string, string, [string, string[]][]]>;
  fsPending(...a: string[]): Promise<number>;
  fsSetMeta(...a: string[]): Promise<number>;
};

interface Entering {
  customerId: string;
  key: string;
  quantity: number;
  entryId: string;
  resolve(r: GateReply): void;
  reject(err: unknown): void;
}

/** Entries of one sale decided by one script call at most (a larger crowd takes several calls). */
const MAX_BATCH = 512;

export class RedisGate {
  private readonly r: Scripted;
  private readonly keysOf: (saleId: string) => string[];
  /** Entries waiting for the next script call, by sale (sent on the next turn of the event loop). */
  private readonly batches = new Map<string, Entering[]>();

  constructor(
    private readonly redis: RedisClient,
    prefix = 'fs',
  ) {
    this.keysOf = keysFor(prefix);
    redis.defineCommand('fsEnter', { numberOfKeys: 4, lua: ENTER });
    redis.defineCommand('fsFreeze', { numberOfKeys: 4, lua: FREEZE });
    redis.defineCommand('fsLoad', { numberOfKeys: 4, lua: LOAD });
    redis.defineCommand('fsRead', { numberOfKeys: 4, lua: READ });
    redis.defineCommand('fsPending', { numberOfKeys: 4, lua: PENDING });
    redis.defineCommand('fsSetMeta', { numberOfKeys: 4, lua: SET_META });
    this.r = redis as Scripted;
  }

  /** Connected and ready for commands (otherwise decisions go to PostgreSQL at once). */
  get connected(): boolean {
    return this.redis.status === 'ready';
  }

  /** Called on each change of the connection (lost or back): waiting shoppers check their entries. */
  onConnectionChange(fn: (ready: boolean) => void): void {
    this.redis.on('ready', () => fn(true));
    this.redis.on('close', () => fn(false));
  }

  /**
   * Decides one entry. Entries of a sale that arrive in the same turn of the event loop go to Redis
   * in one script call (in arrival order, each decided as if alone): a crowd then costs a few
   * round trips and script runs instead of one per shopper, which is what bounds the latency.
   */
  enter(
    saleId: string,
    e: { customerId: string; key: string; quantity: number; entryId: string },
  ): Promise<GateReply> {
    return new Promise<GateReply>((resolve, reject) => {
      let batch = this.batches.get(saleId);
      if (!batch) {
        batch = [];
        this.batches.set(saleId, batch);
        setImmediate(() => this.flush(saleId));
      }
      batch.push({ ...e, resolve, reject });
      if (batch.length >= MAX_BATCH) this.flush(saleId);
    });
  }

  private flush(saleId: string): void {
    const batch = this.batches.get(saleId);
    if (!batch) return;
    this.batches.delete(saleId);
    const args = [String(Date.now())];
    for (const e of batch) args.push(e.customerId, e.key, String(e.quantity), e.entryId);
    this.r.fsEnter(...this.keysOf(saleId), ...args).then(
      (replies) => batch.forEach((e, i) => e.resolve(parseReply(replies[i]))),
      (err) => batch.forEach((e) => e.reject(err)),
    );
  }

  /** Stops decisions for `ms` (they answer FROZEN); null when Redis has no copy of the sale. */
  async freeze(saleId: string, ms: number): Promise<string | null> {
    const token = randomBytes(8).toString('hex');
    return this.r.fsFreeze(...this.keysOf(saleId), String(Date.now() + ms), token);
  }

  /**
   * Installs a rebuilt copy; false when another copy appeared, or the line holds entries after
   * `persistedId` (accepted after the freeze ran out). Returns the new epoch when loaded.
   */
  async load(
    saleId: string,
    frozenBy: string | null,
    persistedId: string,
    copy: SaleCopy,
  ): Promise<string | null> {
    const epoch = randomBytes(8).toString('hex');
    const loaded = await this.r.fsLoad(
      ...this.keysOf(saleId),
      frozenBy ?? '',
      persistedId,
      JSON.stringify({ ...copy, epoch }),
    );
    return loaded === 1 ? epoch : null;
  }

  /** Up to `count` line entries after `cursor` ("epoch:stream id"; another epoch reads from the start). */
  async read(saleId: string, cursor: string, count: number): Promise<LineRead> {
    const [epoch, streamId] = cursor.includes(':') ? cursor.split(':') : ['', '0-0'];
    const [current, soldOut, pgDecided, rows] = await this.r.fsRead(
      ...this.keysOf(saleId),
      epoch,
      streamId,
      String(count),
    );
    const entries = rows.map(([, f]) => {
      const v: Record<string, string> = {};
      for (let i = 0; i < f.length; i += 2) v[f[i]] = f[i + 1];
      return {
        id: v.e,
        customerId: v.c,
        key: v.k,
        quantity: Number(v.q),
        seq: Number(v.s),
        acceptedAt: new Date(Number(v.t)),
      };
    });
    const last = rows.length ? rows[rows.length - 1][0] : current === epoch ? streamId : '0-0';
    return {
      epoch: current,
      soldOut: soldOut === '1',
      pgDecided: Number(pgDecided),
      entries,
      cursor: current ? `${current}:${last}` : cursor,
      streamId: last,
    };
  }

  /** Drops line entries up to the persisted cursor (memory only: the line is re-read by position). */
  async trim(saleId: string, cursor: string): Promise<void> {
    const streamId = cursor.split(':')[1];
    if (streamId && streamId !== '0-0') await this.r.xtrim(this.keysOf(saleId)[3], 'MINID', streamId);
  }

  /** The line's new head (no-op without a copy: the next rebuild takes it from PostgreSQL). */
  async setHead(saleId: string, head: number): Promise<void> {
    await this.r.fsSetMeta(...this.keysOf(saleId), 'head', String(head));
  }

  async setSoldOut(saleId: string): Promise<void> {
    await this.r.fsSetMeta(...this.keysOf(saleId), 'soldOut', '1');
  }

  /** Keys of a closed sale go after a day (late retries still find their entries until then). */
  async expire(saleId: string, seconds: number): Promise<void> {
    for (const k of this.keysOf(saleId)) await this.r.expire(k, seconds);
  }

  /** Whether the entry is still in the line of the copy that accepted it (epoch). */
  async pending(saleId: string, entryId: string, epoch: string): Promise<boolean> {
    return (await this.r.fsPending(...this.keysOf(saleId), epoch, entryId)) === 1;
  }

  async hasCopy(saleId: string): Promise<boolean> {
    return (await this.r.hexists(this.keysOf(saleId)[0], 'startsAt')) === 1;
  }
}

function parseReply(reply: string[]): GateReply {
  const kind = reply[0];
  if (kind === 'DUP' || kind === 'QUEUED') {
    const [customerId, q, seq] = reply[1].split(':');
    return {
      kind,
      customerId,
      quantity: Number(q),
      seq: Number(seq),
      head: Number(reply[2]),
      epoch: reply[3] ?? '',
    };
  }
  if (kind === 'SOLD_OUT') return { kind, left: Number(reply[1]), variantId: reply[2] };
  if (kind === 'LIMIT') return { kind, held: Number(reply[1]), limit: Number(reply[2]) };
  return { kind: kind as 'NOSALE' | 'FROZEN' | 'NOT_ACTIVE' };
}
