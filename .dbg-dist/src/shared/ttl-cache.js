"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.TtlCache = void 0;
/**
 * A small in-process cache with a time-to-live and a size bound (oldest entries go first).
 * Values are usually promises, so concurrent misses for one key share a single computation.
 */
class TtlCache {
    ttlMs;
    maxEntries;
    entries = new Map();
    constructor(ttlMs, maxEntries = 1000) {
        this.ttlMs = ttlMs;
        this.maxEntries = maxEntries;
    }
    get enabled() {
        return this.ttlMs > 0;
    }
    getOrCreate(key, create) {
        if (!this.enabled)
            return create();
        const now = Date.now();
        const hit = this.entries.get(key);
        if (hit && hit.expires > now)
            return hit.value;
        const value = create();
        this.entries.delete(key);
        this.entries.set(key, { value, expires: now + this.ttlMs });
        if (this.entries.size > this.maxEntries)
            this.entries.delete(this.entries.keys().next().value);
        if (value instanceof Promise)
            value.catch(() => this.entries.delete(key));
        return value;
    }
    clear() {
        this.entries.clear();
    }
}
exports.TtlCache = TtlCache;
//# sourceMappingURL=ttl-cache.js.map