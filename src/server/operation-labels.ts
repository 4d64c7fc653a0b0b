/** What `/metrics` calls an operation whose name is not one of the known ones. */
export const OTHER = 'other';
export const ANONYMOUS = 'anonymous';

/** A GraphQL name of reasonable length; anything else is not worth a time series. */
const NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;

/**
 * Operation names as metric labels, from a bounded set. Clients choose operation names, so a
 * label per name lets any client grow /metrics (and the process) without limit. Names registered
 * in advance (persisted or trusted documents, when a source is given) are always labelled; other
 * names are admitted first come, first served, up to `max` distinct names, and everything after that
 * is `other`. The first N are not necessarily the most useful ones, but the set is bounded and
 * stable between scrapes, which is what Prometheus needs; deployments that care register their
 * documents.
 */
export class OperationLabels {
  private readonly seen = new Set<string>();

  constructor(
    private readonly max: number,
    private readonly known: (name: string) => boolean = () => false,
  ) {}

  label(name: string | null | undefined): string {
    if (!name) return ANONYMOUS;
    if (!NAME.test(name)) return OTHER;
    if (this.seen.has(name) || this.known(name)) return name;
    if (this.seen.size >= this.max) return OTHER;
    this.seen.add(name);
    return name;
  }
}
