import { retryLater } from './errors';

/**
 * Password hashing is the most expensive thing a request can ask for (tens of milliseconds of CPU
 * and 19 MiB each). A small pool runs at most `concurrency` at once, so a flood of sign-ins leaves
 * the other cores to everyone else; past `queue` waiting, new ones are refused (RATE_LIMITED)
 * instead of piling up.
 */
export class HashPool {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private concurrency = 1,
    private queue = 50,
  ) {}

  configure(concurrency: number, queue: number): void {
    this.concurrency = concurrency;
    this.queue = queue;
  }

  get pending(): number {
    return this.waiting.length;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queue)
        throw retryLater('Too many sign-ins at once; retry shortly', 1000);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    try {
      return await work();
    } finally {
      // Hand the slot to the next waiter, or free it.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/** One pool per process: every hash and verification goes through it. */
export const hashPool = new HashPool();
