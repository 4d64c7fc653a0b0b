/**
 * A lifecycle as a transition table: the one helper every lifecycle (order, payment, shipment,
 * after-sale) uses to decide whether a move is allowed.
 */
export class StateMachine<S extends string> {
  constructor(readonly transitions: Readonly<Record<S, readonly S[]>>) {}

  can(from: S, to: S): boolean {
    return this.transitions[from].includes(to);
  }

  /** The states from which `to` can be reached in one move (for conditional UPDATEs). */
  sourcesOf(to: S): S[] {
    return (Object.keys(this.transitions) as S[]).filter((from) => this.can(from, to));
  }

  isFinal(state: S): boolean {
    return this.transitions[state].length === 0;
  }
}

/**
 * One thing that happens when something enters a state. `by` names the code that does it, as
 * `<file under src/modules>#<function or method>` (test/unit/lifecycles.test.ts checks that each
 * one exists, so the list cannot silently go stale).
 */
export interface Effect {
  does: string;
  by: string;
}

/** Who moves something into a state, and what entering it does (in the same transaction unless said). */
export interface StateEntry {
  enteredBy: readonly Effect[];
  effects: readonly Effect[];
}

/** For each state of a lifecycle: how it is entered and what entering it does. */
export type EntryEffects<S extends string> = Readonly<Record<S, StateEntry>>;
