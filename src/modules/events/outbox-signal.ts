import { afterCommit } from '../../db/transaction';

/**
 * Wakes the outbox relay after a transaction that wrote order events has committed.
 *
 * Not a NOTIFY inside the writing transaction: PostgreSQL serialises the commits of every
 * transaction that notifies (a global lock held through the commit's WAL flush), which cost a
 * third of the throughput of event-writing transactions. Instead a writer registers an after-commit
 * callback with `inTransaction`, and after COMMIT this sends one `NOTIFY order_event` on its own — at most
 * one in flight per process, so a burst of commits costs one or two notifications. Writers outside
 * this process do the same after their commit (or are picked up by the relay's poll).
 */

/** Called by every writer of order events, inside its transaction: wake the relay after the commit. */
export function markEventsWritten(): void {
  afterCommit(eventsCommitted);
}

/** Sends NOTIFY after commits, coalescing bursts: one in flight, one more queued at most. */
export class OutboxSignal {
  private inFlight = false;
  private again = false;

  constructor(private readonly notify: () => Promise<unknown>) {}

  ping(): void {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = true;
    void this.notify()
      .catch(() => undefined) // the relay's poll is the backstop
      .finally(() => {
        this.inFlight = false;
        if (this.again) {
          this.again = false;
          this.ping();
        }
      });
  }
}

let committedHook: () => void = () => undefined;

/** The app decides what "events committed" does (ping its OutboxSignal). */
export function onEventsCommitted(hook: () => void): void {
  committedHook = hook;
}

export function eventsCommitted(): void {
  committedHook();
}
