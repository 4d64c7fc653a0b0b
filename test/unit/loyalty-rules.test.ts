import { pointsEarned, pointsToReturn, pointsToReverse } from '../../src/modules/loyalty/loyalty.rules';

/** The arithmetic of src/modules/loyalty/loyalty.rules.ts (docs/loyalty.md, "Rounding"). */

describe('pointsEarned', () => {
  test('rate points per whole currency unit kept, rounded down', () => {
    expect(pointsEarned(4050, 1)).toBe(40);
    expect(pointsEarned(4050, 3)).toBe(120);
    expect(pointsEarned(99, 5)).toBe(0);
    expect(pointsEarned(0, 1)).toBe(0);
    expect(pointsEarned(10_000, 0)).toBe(0);
  });
});

describe('pointsToReverse', () => {
  const earned = { earned: 40, keptAtEarning: 4000, reversed: 0 };

  test('a full refund takes back everything earned; a second full refund nothing more', () => {
    expect(pointsToReverse(earned, 4000, 4000)).toBe(40);
    expect(pointsToReverse({ ...earned, reversed: 40 }, 4000, 4000)).toBe(0);
  });

  test('partial refunds: cumulative, so the pieces add up to one refund of their sum, and never more than earned', () => {
    // 40.00 kept, 40 points: three refunds of 13.33, 13.33, 13.34.
    let reversed = 0;
    const steps: number[] = [];
    let refunded = 0;
    for (const amount of [1333, 1333, 1334]) {
      refunded += amount;
      const r = pointsToReverse({ ...earned, reversed }, 4000, refunded);
      steps.push(r);
      reversed += r;
    }
    // What the customer keeps is rounded down: 26.67 kept → 26 left, 13.34 kept → 13 left.
    expect(steps).toEqual([14, 13, 13]);
    expect(reversed).toBe(40);
    expect(pointsToReverse({ ...earned, reversed: 14 }, 4000, 1333)).toBe(0); // the same total again
  });

  test('refunds before the order completed were never earned on and take nothing back', () => {
    // Paid 50.00, 10.00 refunded before completion: 40 points on the 40.00 kept.
    expect(pointsToReverse(earned, 5000, 1000)).toBe(0);
    // 20.00 refunded after: half of what was kept.
    expect(pointsToReverse(earned, 5000, 3000)).toBe(20);
    // Everything refunded: all 40.
    expect(pointsToReverse({ ...earned, reversed: 20 }, 5000, 5000)).toBe(20);
  });

  test('nothing earned, nothing taken; no overflow on huge figures', () => {
    expect(pointsToReverse({ earned: 0, keptAtEarning: 0, reversed: 0 }, 5000, 5000)).toBe(0);
    const big = { earned: 2_000_000_000, keptAtEarning: 9_999_999_999, reversed: 0 };
    expect(pointsToReverse(big, 9_999_999_999, 3_333_333_333)).toBe(2_000_000_000 - 1_333_333_333);
  });
});

describe('pointsToReturn', () => {
  test('spent points come back in proportion to the refunded money, rounded down, all of them on a full refund', () => {
    expect(pointsToReturn(333, 0, 2000, 500)).toBe(83); // floor(333 / 4)
    expect(pointsToReturn(333, 83, 2000, 1000)).toBe(83); // 166 in all
    expect(pointsToReturn(333, 166, 2000, 2000)).toBe(167);
    expect(pointsToReturn(333, 333, 2000, 2000)).toBe(0);
    expect(pointsToReturn(0, 0, 2000, 2000)).toBe(0);
  });
});
