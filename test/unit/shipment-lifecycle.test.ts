import 'reflect-metadata';
import {
  acceptsReport,
  shipmentLifecycle,
  ShipmentStatus,
} from '../../src/modules/fulfillment/shipment.lifecycle';

const S = ShipmentStatus;
const ALL: ShipmentStatus[] = [S.LABEL_CREATED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED, S.EXCEPTION];

/** The intended lifecycle, written out independently of the implementation. */
const ALLOWED: Record<ShipmentStatus, ShipmentStatus[]> = {
  LABEL_CREATED: [S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED, S.EXCEPTION],
  IN_TRANSIT: [S.OUT_FOR_DELIVERY, S.DELIVERED, S.EXCEPTION],
  OUT_FOR_DELIVERY: [S.IN_TRANSIT, S.DELIVERED, S.EXCEPTION],
  EXCEPTION: [S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED],
  DELIVERED: [],
};

describe('shipment lifecycle', () => {
  test('the enum has exactly the five statuses of the contract', () => {
    expect(Object.values(ShipmentStatus).sort()).toEqual([...ALL].sort());
    expect(Object.keys(shipmentLifecycle.transitions).sort()).toEqual([...ALL].sort());
  });

  const pairs = ALL.flatMap((from) => ALL.map((to) => [from, to, ALLOWED[from].includes(to)] as const));
  test('25 pairs, 13 of them allowed', () => {
    expect(pairs).toHaveLength(25);
    expect(pairs.filter(([, , ok]) => ok)).toHaveLength(13);
  });

  test.each(pairs)('%s -> %s allowed: %s', (from, to, ok) => {
    expect(shipmentLifecycle.can(from, to)).toBe(ok);
  });

  test('no status moves to itself, and nothing goes back to LABEL_CREATED', () => {
    for (const s of ALL) {
      expect(shipmentLifecycle.can(s, s)).toBe(false);
      expect(shipmentLifecycle.can(s, S.LABEL_CREATED)).toBe(false);
    }
  });

  test.each([
    [S.LABEL_CREATED, []],
    [S.IN_TRANSIT, [S.LABEL_CREATED, S.OUT_FOR_DELIVERY, S.EXCEPTION]],
    [S.OUT_FOR_DELIVERY, [S.LABEL_CREATED, S.IN_TRANSIT, S.EXCEPTION]],
    [S.DELIVERED, [S.LABEL_CREATED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.EXCEPTION]],
    [S.EXCEPTION, [S.LABEL_CREATED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY]],
  ] as [ShipmentStatus, ShipmentStatus[]][])('sourcesOf(%s) = %j', (to, sources) => {
    expect([...shipmentLifecycle.sourcesOf(to)].sort()).toEqual([...sources].sort());
  });

  test.each(ALL.map((s) => [s, s === S.DELIVERED] as const))('isFinal(%s) = %s', (s, final) => {
    expect(shipmentLifecycle.isFinal(s)).toBe(final);
  });

  /** A carrier report: a lifecycle move, or the same non-final status again (a newer scan). */
  test.each(pairs.map(([from, to, ok]) => [from, to, ok || (from === to && from !== S.DELIVERED)] as const))(
    'a report of %s -> %s is accepted: %s',
    (from, to, ok) => {
      expect(acceptsReport(from, to)).toBe(ok);
    },
  );
});
