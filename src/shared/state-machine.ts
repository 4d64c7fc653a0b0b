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
