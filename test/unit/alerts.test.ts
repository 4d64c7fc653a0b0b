import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';

/**
 * ops/alerts.yml is a valid Prometheus rules file (the structure promtool checks: groups of
 * uniquely named rules with an expr, durations and string labels) and alerts only on metrics
 * the server serves.
 */

interface Rule {
  alert?: string;
  record?: string;
  expr: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

const file = join(__dirname, '../../ops/alerts.yml');
const doc = load(readFileSync(file, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };

/** Every metric served at /metrics that a rule may name (see src/modules/ops/ops.metrics.ts and src/server/metrics.ts). */
const SERVED = [
  'orders_pending_payment_overdue',
  'orders_paid_unshipped',
  'jobs_dead_letter',
  'refunds_needing_attention',
  'work_backlog',
  'outbox_relay_lag_seconds',
  'outbox_relay_leader',
  'sales_rollup_lag_events',
  'payment_provider_circuit_state',
  'db_pool_connections',
  'runtime_switch_enabled',
];
const PROMQL_WORDS = new Set([
  'max',
  'min',
  'by',
  'and',
  'deriv',
  'sum',
  'rate',
  'or',
  'on',
  'without',
  'm',
  's',
  'h',
]);

test('the rules file has the structure of a Prometheus rules file', () => {
  expect(Array.isArray(doc.groups)).toBe(true);
  const names = new Set<string>();
  for (const g of doc.groups) {
    expect(typeof g.name).toBe('string');
    expect(names.has(g.name)).toBe(false);
    names.add(g.name);
    expect(g.rules.length).toBeGreaterThan(0);
    for (const r of g.rules) {
      expect(Object.keys(r).every((k) => ['alert', 'expr', 'for', 'labels', 'annotations'].includes(k))).toBe(
        true,
      );
      expect(typeof r.alert).toBe('string');
      expect(r.alert).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
      expect(typeof r.expr).toBe('string');
      if (r.for !== undefined) expect(r.for).toMatch(/^\d+[smhd]$/);
      for (const v of Object.values({ ...r.labels, ...r.annotations })) expect(typeof v).toBe('string');
      expect(['page', 'ticket']).toContain(r.labels?.severity);
      // Balanced brackets and quotes, as the PromQL parser needs them.
      const expr = r.expr as string;
      let depth = 0;
      for (const ch of expr.replace(/"[^"]*"/g, '')) {
        if ('([{'.includes(ch)) depth++;
        if (')]}'.includes(ch)) depth--;
        expect(depth).toBeGreaterThanOrEqual(0);
      }
      expect(depth).toBe(0);
      // Annotations are Go templates: {{ }} balanced.
      for (const a of Object.values(r.annotations ?? {})) {
        expect(String(a).split('{{').length).toBe(String(a).split('}}').length);
      }
    }
  }
});

test('every alert names only metrics the server serves, and each stuck-work metric has an alert', () => {
  const rules = doc.groups.flatMap((g) => g.rules);
  const used = new Set<string>();
  for (const r of rules) {
    const expr = (r.expr as string)
      .replace(/"[^"]*"/g, '')
      .replace(/\{[^}]*\}/g, '')
      .replace(/\[[^\]]*\]/g, '');
    for (const word of expr.match(/[a-z_][a-z0-9_]*/g) ?? []) {
      if (PROMQL_WORDS.has(word) || ['queue', 'kind', 'instance', 'state', 'name'].includes(word)) continue;
      expect(SERVED).toContain(word);
      used.add(word);
    }
  }
  expect([...used].sort()).toEqual([...SERVED].sort());
});
