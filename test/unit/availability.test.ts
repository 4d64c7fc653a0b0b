import 'reflect-metadata';
import { Availability } from '../../src/modules/catalog/catalog.types';
import { available, availabilityOf, bestAvailability } from '../../src/modules/inventory/availability';

const { IN_STOCK, LOW_STOCK, OUT_OF_STOCK } = Availability;

describe('available', () => {
  test('is on hand minus reserved minus sold', () => {
    expect(available({ onHand: 10, reserved: 3, sold: 2 })).toBe(5);
    expect(available({ onHand: 10, reserved: 0, sold: 0 })).toBe(10);
    expect(available({ onHand: 10, reserved: 4, sold: 6 })).toBe(0);
  });

  test('never goes below zero', () => {
    expect(available({ onHand: 1, reserved: 5, sold: 5 })).toBe(0);
  });
});

describe('availabilityOf with the default threshold 5', () => {
  test.each([
    [{ onHand: 100, reserved: 0, sold: 0 }, IN_STOCK],
    [{ onHand: 6, reserved: 0, sold: 0 }, IN_STOCK],
    [{ onHand: 5, reserved: 0, sold: 0 }, LOW_STOCK],
    [{ onHand: 10, reserved: 3, sold: 2 }, LOW_STOCK],
    [{ onHand: 1, reserved: 0, sold: 0 }, LOW_STOCK],
    [{ onHand: 0, reserved: 0, sold: 0 }, OUT_OF_STOCK],
    [{ onHand: 10, reserved: 6, sold: 4 }, OUT_OF_STOCK],
    [{ onHand: 2, reserved: 3, sold: 0 }, OUT_OF_STOCK],
  ])('%o is %s', (counts, expected) => {
    expect(availabilityOf(counts, 5)).toBe(expected);
  });
});

describe('availabilityOf with other thresholds', () => {
  test('threshold 0: one unit is IN_STOCK, zero is OUT_OF_STOCK', () => {
    expect(availabilityOf({ onHand: 1, reserved: 0, sold: 0 }, 0)).toBe(IN_STOCK);
    expect(availabilityOf({ onHand: 0, reserved: 0, sold: 0 }, 0)).toBe(OUT_OF_STOCK);
  });

  test('threshold 20: 20 is LOW_STOCK, 21 is IN_STOCK', () => {
    expect(availabilityOf({ onHand: 20, reserved: 0, sold: 0 }, 20)).toBe(LOW_STOCK);
    expect(availabilityOf({ onHand: 21, reserved: 0, sold: 0 }, 20)).toBe(IN_STOCK);
  });
});

describe('bestAvailability', () => {
  test.each([
    [[IN_STOCK], IN_STOCK],
    [[OUT_OF_STOCK, LOW_STOCK, IN_STOCK], IN_STOCK],
    [[LOW_STOCK, IN_STOCK], IN_STOCK],
    [[OUT_OF_STOCK, LOW_STOCK], LOW_STOCK],
    [[LOW_STOCK, LOW_STOCK], LOW_STOCK],
    [[OUT_OF_STOCK, OUT_OF_STOCK], OUT_OF_STOCK],
    [[OUT_OF_STOCK], OUT_OF_STOCK],
    [[], OUT_OF_STOCK],
  ])('best of %o is %s', (levels, expected) => {
    expect(bestAvailability(levels)).toBe(expected);
  });
});
