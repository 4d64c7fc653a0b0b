import {
  AccountKind,
  accountKey,
  FEE_REVENUE,
  isValidAccount,
  merchantAvailable,
  merchantEscrow,
  OwnerType,
  partsWithFee,
  PROVIDER_CLEARING,
  refundFeeShare,
  splitFee,
  userAvailable,
} from '../../src/modules/ledger/ledger';

/** A small deterministic PRNG (mulberry32), so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('splitFee', () => {
  test.each([
    [10000, 250, 250, 9750],
    [1999, 250, 49, 1950], // 49.975 rounds down: the merchant keeps the fraction
    [1, 9999, 0, 1],
    [3, 5000, 1, 2],
    [0, 250, 0, 0],
    [12345, 0, 0, 12345],
    [12345, 10000, 12345, 0],
    [100_000_000_00, 1234, 12_340_000_00, 87_660_000_00],
  ])('%d at %d bps: fee %d, net %d', (amount, bps, fee, net) => {
    expect(splitFee(amount, bps)).toEqual({ fee, net });
  });

  test('is exact for the largest safe amounts', () => {
    const amount = Number.MAX_SAFE_INTEGER; // 9007199254740991
    expect(splitFee(amount, 3333)).toEqual({ fee: 3002099511605172, net: 6005099743135819 });
  });

  test('fee + net is the amount and the fee is floor(amount × bps / 10000), over many amounts', () => {
    const rand = prng(42);
    const wrong: unknown[] = [];
    for (let i = 0; i < 20_000; i++) {
      const amount = Math.floor(rand() * 10_000_000);
      const bps = Math.floor(rand() * 10_001);
      const { fee, net } = splitFee(amount, bps);
      const ok =
        fee + net === amount &&
        fee === Number((BigInt(amount) * BigInt(bps)) / 10000n) &&
        fee >= 0 &&
        fee * 10000 <= amount * bps &&
        (fee + 1) * 10000 > amount * bps;
      if (!ok) wrong.push({ amount, bps, fee, net });
    }
    expect(wrong).toEqual([]);
  });

  test.each([
    [-1, 100],
    [1.5, 100],
    [Number.NaN, 100],
    [Number.MAX_SAFE_INTEGER + 1, 100],
    [100, -1],
    [100, 10001],
    [100, 2.5],
  ])('rejects amount %d at %d bps', (amount, bps) => {
    expect(() => splitFee(amount, bps)).toThrow(RangeError);
  });
});

describe('refundFeeShare', () => {
  test('a full refund gives back the whole fee', () => {
    expect(refundFeeShare(1999, 49, 0, 1999)).toEqual({ fee: 49, net: 1950 });
  });

  test('three refunds of 1 of a sale of 3 with fee 1 give back fee 1 in total, merchant 2', () => {
    const parts = [0, 1, 2].map((before) => refundFeeShare(3, 1, before, 1));
    expect(parts).toEqual([
      { fee: 0, net: 1 },
      { fee: 0, net: 1 },
      { fee: 1, net: 0 },
    ]);
  });

  test('partial refunds: the fee parts sum to the fee at full refund and never exceed its share before', () => {
    const rand = prng(7);
    const wrong: unknown[] = [];
    for (let round = 0; round < 5000; round++) {
      const paid = 1 + Math.floor(rand() * 50_000);
      const { fee } = splitFee(paid, Math.floor(rand() * 3000));
      let before = 0;
      let feeBack = 0;
      let netBack = 0;
      while (before < paid) {
        const amount = Math.min(paid - before, 1 + Math.floor(rand() * (rand() < 0.3 ? 3 : paid)));
        const share = refundFeeShare(paid, fee, before, amount);
        before += amount;
        feeBack += share.fee;
        netBack += share.net;
        const ok =
          share.fee + share.net === amount &&
          share.fee >= 0 &&
          share.net >= 0 &&
          feeBack <= fee &&
          netBack <= paid - fee &&
          feeBack === Math.floor((before * fee) / paid);
        if (!ok) wrong.push({ paid, fee, before, amount, share });
      }
      if (feeBack !== fee || netBack !== paid - fee) wrong.push({ paid, fee, feeBack, netBack });
    }
    expect(wrong).toEqual([]);
  });

  test('rejects refunding more than was paid, and a fee above the amount paid', () => {
    expect(() => refundFeeShare(100, 5, 60, 41)).toThrow(RangeError);
    expect(() => refundFeeShare(100, 101, 0, 1)).toThrow(RangeError);
    expect(() => refundFeeShare(100, 5, -1, 1)).toThrow(RangeError);
    expect(refundFeeShare(100, 5, 60, 40)).toEqual({ fee: 2, net: 38 });
  });
});

describe('accounts', () => {
  test('which owner has which kinds', () => {
    expect(isValidAccount(userAvailable('7'))).toBe(true);
    expect(isValidAccount(merchantEscrow('7'))).toBe(true);
    expect(isValidAccount(merchantAvailable('7'))).toBe(true);
    expect(isValidAccount(FEE_REVENUE)).toBe(true);
    expect(isValidAccount(PROVIDER_CLEARING)).toBe(true);
    expect(isValidAccount({ ownerType: OwnerType.USER, ownerId: '7', kind: AccountKind.ESCROW })).toBe(false);
    expect(
      isValidAccount({ ownerType: OwnerType.PLATFORM, ownerId: '7', kind: AccountKind.FEE_REVENUE }),
    ).toBe(false);
    expect(isValidAccount({ ownerType: OwnerType.MERCHANT, ownerId: null, kind: AccountKind.ESCROW })).toBe(
      false,
    );
    expect(isValidAccount({ ownerType: OwnerType.USER, ownerId: '0', kind: AccountKind.AVAILABLE })).toBe(
      false,
    );
    expect(
      isValidAccount({
        ownerType: OwnerType.USER,
        ownerId: '9223372036854775808',
        kind: AccountKind.AVAILABLE,
      }),
    ).toBe(false);
    expect(isValidAccount({ ownerType: OwnerType.USER, ownerId: '1e3', kind: AccountKind.AVAILABLE })).toBe(
      false,
    );
  });

  test('keys tell accounts apart', () => {
    expect(accountKey(merchantEscrow('7'))).toBe('MERCHANT:7:ESCROW');
    expect(accountKey(FEE_REVENUE)).toBe('PLATFORM::FEE_REVENUE');
    expect(accountKey(userAvailable('7'))).not.toBe(accountKey(merchantAvailable('7')));
  });

  test('partsWithFee works out each part’s fee', () => {
    expect(
      partsWithFee(
        [
          { merchantId: '1', amount: 1999 },
          { merchantId: '2', amount: 3, reference: 'o2' },
        ],
        5000,
      ),
    ).toEqual([
      { merchantId: '1', amount: 1999, fee: 999 },
      { merchantId: '2', amount: 3, fee: 1, reference: 'o2' },
    ]);
  });
});
