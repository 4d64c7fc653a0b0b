import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { badInput } from '../../shared/errors';
import { isSwitchName, SWITCHES, SWITCH_NAMES, type SwitchName, type SwitchState } from './switches';
import { switchStore, type SwitchRow } from './switches.store';

/**
 * Runtime switches, stored in PostgreSQL and read by every process within `refreshSeconds`.
 *
 * `isOn` is synchronous and reads this process's copy, so a hot path (every checkout) pays
 * nothing for it. The copy is refreshed by polling one tiny table: no extra connection per
 * process (as LISTEN would need), and a process that missed a change catches up on its next
 * poll. The process that makes a change sees it at once. When the database cannot be read the
 * last known values stay in force.
 */
export class SwitchService {
  private values = new Map<SwitchName, SwitchRow>();
  private timer?: NodeJS.Timeout;
  private em?: () => EntityManager;

  /** Registered into the app's registry by the operations metrics (registers: [] here). */
  readonly changes = new Counter({
    name: 'runtime_switch_changes_total',
    help: 'Runtime switch changes made through this process, by switch and new value',
    labelNames: ['name', 'enabled'],
    registers: [],
  });
  readonly gauge: Gauge;

  constructor(
    private readonly refreshSeconds: number,
    private readonly log: Logger,
  ) {
    const isOn = (n: SwitchName) => this.isOn(n);
    this.gauge = new Gauge({
      name: 'runtime_switch_enabled',
      help: '1 when this process sees the switch on',
      labelNames: ['name'],
      registers: [],
      collect() {
        for (const n of SWITCH_NAMES) this.set({ name: n }, isOn(n) ? 1 : 0);
      },
    });
  }

  /** Reads the switches once (before the server answers anything) and then every refreshSeconds. */
  async start(em: () => EntityManager): Promise<void> {
    this.em = em;
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.refreshSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Whether the feature may run now, as this process last read it. */
  isOn(name: SwitchName): boolean {
    return this.values.get(name)?.enabled ?? SWITCHES[name].default;
  }

  async refresh(): Promise<void> {
    if (!this.em) return;
    try {
      const rows = await switchStore.all(this.em());
      const next = new Map<SwitchName, SwitchRow>();
      for (const r of rows) if (isSwitchName(r.name)) next.set(r.name, r);
      for (const n of SWITCH_NAMES) {
        if (this.isOn(n) !== (next.get(n)?.enabled ?? SWITCHES[n].default)) {
          this.log.info(
            { switch: n, enabled: !this.isOn(n) },
            'runtime switch changed (seen by this process)',
          );
        }
      }
      this.values = next;
    } catch (err) {
      this.log.warn({ err }, 'runtime switches could not be read; keeping the last known values');
    }
  }

  /** Every switch with its value in the database (not this process's copy). */
  async list(em: EntityManager): Promise<SwitchState[]> {
    const rows = new Map((await switchStore.all(em)).map((r) => [r.name, r]));
    return SWITCH_NAMES.map((name) => this.state(name, rows.get(name)));
  }

  /** ADMIN: sets a switch; logged, counted and recorded with who changed it. */
  async set(em: EntityManager, userId: string, name: string, enabled: boolean): Promise<SwitchState> {
    if (!isSwitchName(name)) {
      throw badInput(`Unknown switch "${name.slice(0, 50)}"; known: ${SWITCH_NAMES.join(', ')}`, 'name');
    }
    const { row, previous } = await switchStore.set(em, name, enabled, SWITCHES[name].default, userId);
    this.values.set(name, row);
    this.changes.inc({ name, enabled: String(enabled) });
    this.log.warn({ switch: name, enabled, previous, by: userId }, 'runtime switch set');
    return this.state(name, row);
  }

  private state(name: SwitchName, row: SwitchRow | undefined): SwitchState {
    return {
      name,
      enabled: row?.enabled ?? SWITCHES[name].default,
      description: SWITCHES[name].description,
      updatedAt: row?.updated_at ?? null,
    };
  }
}
