/**
 * How long to wait after the `failures`-th failed attempt: the base doubling each time, at most
 * `maxSeconds`, spread by ±20 % so that the deliveries a receiver's outage failed together do not
 * all come back at the same moment.
 */
export function retryDelayMs(
  failures: number,
  baseSeconds: number,
  maxSeconds: number,
  random: () => number = Math.random,
): number {
  const exact = Math.min(baseSeconds * 2 ** Math.max(0, failures - 1), maxSeconds) * 1000;
  return Math.round(exact * (0.8 + 0.4 * random()));
}
