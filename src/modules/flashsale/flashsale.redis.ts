import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { LineEntry } from './flashsale.store';

/**
 * The Redis side of a flash sale: the gate that decides entries, and the line it appends them to.
 *
 * Keys of one sale share a hash tag, so a script touching them runs on one node of a cluster:
 *   fs:{id}:meta  hash   startsAt endsAt (ms), capacity, limit, units, seq, head, soldOut,
 *                        epoch (which copy this is), frozenUntil (ms, while being reconciled)
 *   fs:{id}:cust  hash   customer id -> units accepted
 *   fs:{id}:ent   hash   entry id -> "customer:quantity:seq" (the entry id is derived from the
 *                        customer and the idempotency key, so this is also the idempotency record)
 *   fs:{id}:line  stream the accepted entries, in order, until the worker has persisted them
 */

const keysFor = (prefix: string) => (saleId: string) => {
  const t = `${prefix}:{${saleId}}`;
  return [`${t}:meta`, `${t}:cust`, `${t}:ent`, `${t}:line`];
};

/**
 * The decision, atomically: frozen (being reconciled: retry in a moment), a repeated key (the
 * stored entry), outside the window, sold out or the line full, over the customer's limit; else
 * the entry is counted and appended to the line.
 */
const ENTER = `
local m = redis.call('HMGET', KEYS[1], 'startsAt', 'endsAt', 'capacity', 'units', 'limit', 'soldOut', 'frozenUntil', 'head')
if not m[1] then return {'NOSALE'} end
local now = tonumber(ARGV[1])
if m[7] and tonumber(m[7]) > now then return {'FROZEN'} end
local prior = redis.call('HGET', KEYS[3], ARGV[5])
if prior then return {'DUP', prior, m[8] or '0'} end
if now < tonumber(m[1]) or now >= tonumber(m[2]) then return {'NOT_ACTIVE'} end
local qty = tonumber(ARGV[4])
local left = tonumber(m[3]) - tonumber(m[4])
if m[6] == '1' or qty > left then return {'SOLD_OUT', tostring(left), redis.call('HGET', KEYS[1], 'variant')} end
local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
if mine + qty > tonumber(m[5]) then return {'LIMIT', tostring(mine), m[5]} end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('HINCRBY', KEYS[1], 'units', qty)
redis.call('HINCRBY', KEYS[2], ARGV[2], qty)
local rec = ARGV[2] .. ':' .. qty .. ':' .. seq
redis.call('HSET', KEYS[3], ARGV[5], rec)
redis.call('XADD', KEYS[4], '*', 'e', ARGV[5], 'c', ARGV[2], 'k', ARGV[3], 'q', qty, 's', seq, 't', ARGV[1])
return {'QUEUED', rec, m[8] or '0'}
`;

/** Freezes the gate for a reconciliation (returns the token), or nil when there is no copy. */
const FREEZE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'frozenUntil', ARGV[1], 'frozenBy', ARGV[2])
return ARGV[2]
`;

/**
 * Replaces the sale's copy with the state rebuilt from PostgreSQL: only if there is no copy, or
 * the copy is still frozen by this reconciliation (a freeze that ran out means entries may have
 * been accepted since, which the caller has not persisted: it must start again).
 */
const LOAD = `
local frozenBy = redis.call('HGET', KEYS[1], 'frozenBy')
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[1] == '' then
  if exists then return 0 end
else
  local frozenUntil = tonumber(redis.call('HGET', KEYS[1], 'frozenUntil') or '0')
  if (not exists) or frozenBy ~= ARGV[1] or frozenUntil <= tonumber(ARGV[2]) then return 0 end
end
local d = cjson.decode(ARGV[3])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('HSET', KEYS[1], 'variant', d.variant, 'startsAt', d.startsAt, 'endsAt', d.endsAt, 'capacity', d.capacity, 'limit', d.limit,
  'units', d.units, 'seq', d.seq, 'head', d.head, 'soldOut', d.soldOut, 'epoch', d.epoch)
for i = 1, #d.customers do redis.call('HSET', KEYS[2], d.customers[i][1], d.customers[i][2]) end
for i = 1, #d.entries do redis.call('HSET', KEYS[3], d.entries[i][1], d.entries[i][2]) end
return 1
`;

/** The copy's epoch and the line after the cursor (the whole line when the cursor is of another copy). */
const READ = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then return {false, {}} end
local from = '-'
if ARGV[1] == epoch then from = '(' .. ARGV[2] end
return {epoch, redis.call('XRANGE', KEYS[4], from, '+', 'COUNT', ARGV[3])}
`;

export type GateReply =
  | { kind: 'NOSALE' | 'FROZEN' | 'NOT_ACTIVE' }
  | { kind: 'DUP' | 'QUEUED'; customerId: string; quantity: number; seq: number; head: number }
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
  customers: [string, number][];
  entries: [string, string][];
}

type Scripted = Redis & {
  fsEnter(...a: string[]): Promise<string[]>;
  fsFreeze(...a: string[]): Promise<string | null>;
  fsLoad(...a: string[]): Promise<number>;
  fsRead(...a: string[]): Promise<[string | null, [string, string[]][]]>;
};

export class RedisGate {
  private readonly r: Scripted;
  private readonly keysOf: (saleId: string) => string[];

  constructor(
    private readonly redis: Redis,
    prefix = 'fs',
  ) {
    this.keysOf = keysFor(prefix);
    redis.defineCommand('fsEnter', { numberOfKeys: 4, lua: ENTER });
    redis.defineCommand('fsFreeze', { numberOfKeys: 4, lua: FREEZE });
    redis.defineCommand('fsLoad', { numberOfKeys: 4, lua: LOAD });
    redis.defineCommand('fsRead', { numberOfKeys: 4, lua: READ });
    this.r = redis as Scripted;
  }

  /** Connected and ready for commands (otherwise decisions go to PostgreSQL at once). */
  get connected(): boolean {
    return this.redis.status === 'ready';
  }

  async enter(
    saleId: string,
    e: { customerId: string; key: string; quantity: number; entryId: string; now: number },
  ): Promise<GateReply> {
    const reply = await this.r.fsEnter(
      ...this.keysOf(saleId),
      String(e.now),
      e.customerId,
      e.key,
      String(e.quantity),
      e.entryId,
    );
    const kind = reply[0];
    if (kind === 'DUP' || kind === 'QUEUED') {
      const [customerId, q, seq] = reply[1].split(':');
      return { kind, customerId, quantity: Number(q), seq: Number(seq), head: Number(reply[2]) };
    }
    if (kind === 'SOLD_OUT') return { kind, left: Number(reply[1]), variantId: reply[2] };
    if (kind === 'LIMIT') return { kind, held: Number(reply[1]), limit: Number(reply[2]) };
    return { kind: kind as 'NOSALE' | 'FROZEN' | 'NOT_ACTIVE' };
  }

  /** Stops decisions for `ms` (they answer FROZEN); null when Redis has no copy of the sale. */
  async freeze(saleId: string, ms: number): Promise<string | null> {
    const token = randomBytes(8).toString('hex');
    return this.r.fsFreeze(...this.keysOf(saleId), String(Date.now() + ms), token);
  }

  /** Installs a rebuilt copy; false when another copy appeared or the freeze ran out. */
  async load(saleId: string, frozenBy: string | null, copy: SaleCopy): Promise<boolean> {
    const epoch = randomBytes(8).toString('hex');
    const loaded = await this.r.fsLoad(
      ...this.keysOf(saleId),
      frozenBy ?? '',
      String(Date.now()),
      JSON.stringify({ ...copy, epoch }),
    );
    return loaded === 1;
  }

  /** Up to `count` line entries after `cursor` ("epoch:stream id"; another epoch reads from the start). */
  async read(
    saleId: string,
    cursor: string,
    count: number,
  ): Promise<{ epoch: string | null; entries: LineEntry[]; cursor: string }> {
    const [epoch, streamId] = cursor.includes(':') ? cursor.split(':') : ['', '0-0'];
    const [current, rows] = await this.r.fsRead(...this.keysOf(saleId), epoch, streamId, String(count));
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
    return { epoch: current, entries, cursor: current ? `${current}:${last}` : cursor };
  }

  /** Drops line entries up to the persisted cursor (memory only: the line is re-read by position). */
  async trim(saleId: string, cursor: string): Promise<void> {
    const streamId = cursor.split(':')[1];
    if (streamId && streamId !== '0-0') await this.r.xtrim(this.keysOf(saleId)[3], 'MINID', streamId);
  }

  async setHead(saleId: string, head: number): Promise<void> {
    await this.r.hset(this.keysOf(saleId)[0], 'head', String(head));
  }

  async setSoldOut(saleId: string): Promise<void> {
    await this.r.hset(this.keysOf(saleId)[0], 'soldOut', '1');
  }

  /** Keys of a closed sale go after a day (late retries still find their entries until then). */
  async expire(saleId: string, seconds: number): Promise<void> {
    for (const k of this.keysOf(saleId)) await this.r.expire(k, seconds);
  }

  /** An entry accepted by Redis and perhaps not persisted yet, with the line's head. */
  async lookup(
    saleId: string,
    entryId: string,
  ): Promise<{ customerId: string; quantity: number; seq: number; head: number } | null> {
    const [meta, , ent] = this.keysOf(saleId);
    const [rec, head] = await Promise.all([this.r.hget(ent, entryId), this.r.hget(meta, 'head')]);
    if (!rec) return null;
    const [customerId, q, seq] = rec.split(':');
    return { customerId, quantity: Number(q), seq: Number(seq), head: Number(head ?? 0) };
  }

  async hasCopy(saleId: string): Promise<boolean> {
    return (await this.r.exists(this.keysOf(saleId)[0])) === 1;
  }
}
