"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.pgArray = pgArray;
exports.toKnexBindings = toKnexBindings;
exports.sqlAll = sqlAll;
/** A PostgreSQL array literal, so an array travels as one bound value (knex would expand it). */
function pgArray(values) {
    return `{${values.map((v) => `"${String(v).replace(/(["\\])/g, '\\$1')}"`).join(',')}}`;
}
/**
 * Rewrites `$1`-style SQL to knex's `?` bindings in order of appearance, so one statement text
 * works both here and in the benchmark's bare `pg` baseline.
 */
function toKnexBindings(sql, params) {
    const bindings = [];
    const text = sql.replace(/\$(\d+)/g, (_, n) => {
        const v = params[Number(n) - 1];
        bindings.push(Array.isArray(v) ? pgArray(v) : v);
        return '?';
    });
    return { text, bindings };
}
/**
 * Runs raw SQL in the request's EntityManager: inside its transaction when there is one, otherwise
 * on a replica when `readOnly` (replication lag is acceptable there) or on the primary.
 */
async function sqlAll(em, sql, params = [], readOnly = false) {
    const { text, bindings } = toKnexBindings(sql, params);
    const trx = em.getTransactionContext();
    const conn = em.getConnection(trx || !readOnly ? 'write' : 'read');
    return conn.execute(text, bindings, 'all', trx);
}
//# sourceMappingURL=sql.js.map