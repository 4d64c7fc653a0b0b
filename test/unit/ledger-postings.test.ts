import {
  AccountKind,
  accountKey,
  FEE_REVENUE,
  isValidAccount,
  LEDGER_STRIPES,
  LedgerEntryKind,
  merchantAvailable,
  merchantEscrow,
  OwnerType,
  PostingKind,
  PROVIDER_CLEARING,
  stripeFor,
  userAvailable,
} from '../../src/modules/ledger/ledger';
import {
  allocateStripes,
  escrowReleasePosting,
  purchaseWithBalancePosting,
  purchaseWithCardPosting,
  refundPosting,
  stripedDebits,
  topUpPosting,
  type PostingInput,
} from '../../src/modules/ledger/postings';

/* The postings payments make, as pure functions: what moves where, before anything is written. */

const sum = (p: PostingInput) => p.lines.reduce((s, l) => s + l.amount, 0);

describe('stripes', () => {
  test('an order always hashes to the same stripe, and orders spread over all stripes', () => {
    expect(stripeFor('order:42')).toBe(stripeFor('order:42'));
    const seen = new Set(Array.from({ length: 2000 }, (_, i) => stripeFor(`order:${123456789000 + i}`)));
    expect(seen.size).toBe(LEDGER_STRIPES);
    for (const s of seen) expect(s >= 0 && s < LEDGER_STRIPES).toBe(true);
  });

  test('only escrow, fee and clearing accounts have stripes other than 0', () => {
    expect(isValidAccount({ ...merchantEscrow('7'), stripe: 15 })).toBe(true);
    expect(isValidAccount({ ...FEE_REVENUE, stripe: 3 })).toBe(true);
    expect(isValidAccount({ ...PROVIDER_CLEARING, stripe: 1 })).toBe(true);
    expect(isValidAccount({ ...PROVIDER_CLEARING, stripe: LEDGER_STRIPES - 1 })).toBe(true);
    expect(isValidAccount({ ...PROVIDER_CLEARING, stripe: LEDGER_STRIPES })).toBe(false);
    expect(isValidAccount({ ...merchantEscrow('7'), stripe: LEDGER_STRIPES })).toBe(false);
    expect(isValidAccount({ ...userAvailable('7'), stripe: 1 })).toBe(false);
    expect(isValidAccount({ ...merchantAvailable('7'), stripe: 1 })).toBe(false);
    expect(accountKey({ ...merchantEscrow('7'), stripe: 0 })).toBe(accountKey(merchantEscrow('7')));
    expect(accountKey({ ...merchantEscrow('7'), stripe: 2 })).not.toBe(accountKey(merchantEscrow('7')));
  });
});

describe('purchase', () => {
  const input = {
    buyerId: '5',
    reference: 'payment:9',
    parts: [
      { merchantId: '1', amount: 3000, fee: 75, reference: 'order:100' },
      { merchantId: '2', amount: 1999, fee: 0, reference: 'order:101' },
      { merchantId: '3', amount: 50, fee: 50, reference: 'order:102' },
    ],
  };

  test('the buyer pays the total; each merchant gets its part less the fee, on its order’s stripe', () => {
    const p = purchaseWithBalancePosting(input);
    expect(p.kind).toBe(PostingKind.PURCHASE);
    expect(p.reference).toBe('payment:9');
    expect(sum(p)).toBe(0);
    expect(p.lines).toEqual([
      { account: userAvailable('5'), amount: -5049, entryKind: LedgerEntryKind.PURCHASE },
      {
        account: { ...merchantEscrow('1'), stripe: stripeFor('order:100') },
        amount: 2925,
        entryKind: LedgerEntryKind.SALE,
        reference: 'order:100',
      },
      {
        account: { ...FEE_REVENUE, stripe: stripeFor('order:100') },
        amount: 75,
        entryKind: LedgerEntryKind.PLATFORM_FEE,
        reference: 'order:100',
      },
      // No fee line for a zero fee, no sale line when the fee is everything.
      {
        account: { ...merchantEscrow('2'), stripe: stripeFor('order:101') },
        amount: 1999,
        entryKind: LedgerEntryKind.SALE,
        reference: 'order:101',
      },
      {
        account: { ...FEE_REVENUE, stripe: stripeFor('order:102') },
        amount: 50,
        entryKind: LedgerEntryKind.PLATFORM_FEE,
        reference: 'order:102',
      },
    ]);
  });

  test('by card the provider clearing account pays', () => {
    const p = purchaseWithCardPosting(input);
    expect(p.lines[0]).toEqual({
      account: PROVIDER_CLEARING,
      amount: -5049,
      entryKind: LedgerEntryKind.PURCHASE,
    });
    expect(sum(p)).toBe(0);
  });

  test('bad parts are refused', () => {
    expect(() => purchaseWithBalancePosting({ ...input, parts: [] })).toThrow(RangeError);
    expect(() =>
      purchaseWithBalancePosting({ ...input, parts: [{ merchantId: '1', amount: 0, fee: 0 }] }),
    ).toThrow(RangeError);
    expect(() =>
      purchaseWithBalancePosting({ ...input, parts: [{ merchantId: '1', amount: 10, fee: 11 }] }),
    ).toThrow(RangeError);
  });
});

describe('refund and release', () => {
  test('a refund takes the fee part from the platform and the rest from the merchant, to the payee', () => {
    const p = refundPosting(
      {
        reference: 'refund:3',
        buyerId: '5',
        merchantId: '1',
        amount: 1000,
        fee: 25,
        entryReference: 'order:100',
      },
      userAvailable('5'),
    );
    expect(p.kind).toBe(PostingKind.REFUND);
    expect(sum(p)).toBe(0);
    expect(p.lines).toEqual([
      {
        account: merchantEscrow('1'),
        amount: -975,
        entryKind: LedgerEntryKind.REFUND,
        reference: 'order:100',
      },
      { account: FEE_REVENUE, amount: -25, entryKind: LedgerEntryKind.REFUND, reference: 'order:100' },
      {
        account: userAvailable('5'),
        amount: 1000,
        entryKind: LedgerEntryKind.REFUND,
        reference: 'order:100',
      },
    ]);
    const after = refundPosting(
      {
        reference: 'refund:4',
        buyerId: '5',
        merchantId: '1',
        amount: 10,
        fee: 0,
        from: AccountKind.AVAILABLE,
      },
      PROVIDER_CLEARING,
    );
    expect(after.lines.map((l) => [l.account.kind, l.amount])).toEqual([
      [AccountKind.AVAILABLE, -10],
      [AccountKind.PROVIDER_CLEARING, 10],
    ]);
    expect(() =>
      refundPosting(
        { reference: 'r', buyerId: '5', merchantId: '1', amount: 10, fee: 11 },
        PROVIDER_CLEARING,
      ),
    ).toThrow(RangeError);
  });

  test('a release moves escrow to available; a top-up moves clearing to the user', () => {
    expect(escrowReleasePosting('1', 500, 'order:7').lines.map((l) => [l.account.kind, l.amount])).toEqual([
      [AccountKind.ESCROW, -500],
      [AccountKind.AVAILABLE, 500],
    ]);
    const top = topUpPosting('5', 700, 'payment:1');
    expect(top.lines.map((l) => [l.account.ownerType, l.amount])).toEqual([
      [OwnerType.PLATFORM, -700],
      [OwnerType.USER, 700],
    ]);
  });
});

describe('allocateStripes', () => {
  const refund = refundPosting(
    { reference: 'refund:3', buyerId: '5', merchantId: '1', amount: 1000, fee: 30 },
    userAvailable('5'),
  );
  const balances = (entries: [number, number][]) => new Map(entries);

  test('a debit comes from the fullest stripes, split when one does not hold it all', () => {
    const lines = allocateStripes(
      refund,
      new Map([
        [
          accountKey(merchantEscrow('1')),
          balances([
            [0, 100],
            [4, 900],
            [9, 0],
          ]),
        ],
        [accountKey(FEE_REVENUE), balances([[2, 30]])],
      ]),
    );
    expect(lines.map((l) => [l.account.kind, l.account.stripe, l.amount])).toEqual([
      [AccountKind.ESCROW, 4, -900],
      [AccountKind.ESCROW, 0, -70],
      [AccountKind.FEE_REVENUE, 2, -30],
      [AccountKind.AVAILABLE, undefined, 1000],
    ]);
    expect(lines.reduce((s, l) => s + l.amount, 0)).toBe(0);
  });

  test('more than the stripes hold stays on the fullest stripe, so the posting reports the shortage', () => {
    const lines = allocateStripes(
      refund,
      new Map([
        [
          accountKey(merchantEscrow('1')),
          balances([
            [3, 500],
            [1, 200],
          ]),
        ],
        [accountKey(FEE_REVENUE), balances([[0, 30]])],
      ]),
    );
    const escrow = lines.filter((l) => l.account.kind === AccountKind.ESCROW);
    expect(escrow.map((l) => [l.account.stripe, l.amount])).toEqual([
      [3, -500],
      [1, -200],
      [3, -270],
    ]);
    expect(lines.reduce((s, l) => s + l.amount, 0)).toBe(0);
  });

  test('a credit without a stripe goes to the stripe of its reference; named stripes stay', () => {
    const p: PostingInput = {
      kind: PostingKind.ADJUSTMENT,
      reference: 'adj:1',
      lines: [
        {
          account: merchantEscrow('1'),
          amount: 5,
          entryKind: LedgerEntryKind.ADJUSTMENT,
          reference: 'order:8',
        },
        { account: { ...FEE_REVENUE, stripe: 6 }, amount: -5, entryKind: LedgerEntryKind.ADJUSTMENT },
      ],
    };
    expect(allocateStripes(p, new Map()).map((l) => l.account.stripe)).toEqual([stripeFor('order:8'), 6]);
  });
});

describe('clearing stripes', () => {
  /** The clearing lines of a posting as written: (stripe, amount). */
  const clearing = (p: PostingInput, stripes = new Map<string, Map<number, number>>()) =>
    allocateStripes(p, stripes)
      .filter((l) => l.account.kind === AccountKind.PROVIDER_CLEARING)
      .map((l) => [l.account.stripe, l.amount]);
  const references = Array.from({ length: 200 }, (_, i) => `payment:${987654321 + i}`);

  test('a card purchase takes the total from the clearing stripe of its reference (a debit, no balance read)', () => {
    const p = purchaseWithCardPosting({
      buyerId: '5',
      reference: 'payment:9',
      parts: [
        { merchantId: '1', amount: 3000, fee: 75, reference: 'order:100' },
        { merchantId: '2', amount: 1999, fee: 0, reference: 'order:101' },
      ],
    });
    // Clearing has no floor: its debit needs no stripe balances, so nothing is locked to read them.
    expect(stripedDebits(p.lines)).toEqual([]);
    expect(clearing(p)).toEqual([[stripeFor('payment:9'), -4999]]);
    // Balances, if given, change nothing: the debit is never split over the fullest stripes.
    const full = new Map([
      [accountKey(PROVIDER_CLEARING), new Map([[(stripeFor('payment:9') + 1) % 16, 1e9]])],
    ]);
    expect(clearing(p, full)).toEqual([[stripeFor('payment:9'), -4999]]);
    expect(allocateStripes(p, new Map()).reduce((s, l) => s + l.amount, 0)).toBe(0);
  });

  test('a top-up takes the amount from the clearing stripe of its reference', () => {
    const p = topUpPosting('5', 700, 'payment:1');
    expect(stripedDebits(p.lines)).toEqual([]);
    expect(clearing(p)).toEqual([[stripeFor('payment:1'), -700]]);
  });

  test('a card refund credits the clearing stripe of its entries’ reference; escrow and fee are still spread', () => {
    const p = refundPosting(
      {
        reference: 'refund:3',
        buyerId: '5',
        merchantId: '1',
        amount: 1000,
        fee: 30,
        entryReference: 'order:100',
      },
      PROVIDER_CLEARING,
    );
    expect(stripedDebits(p.lines).map(accountKey)).toEqual([
      accountKey(merchantEscrow('1')),
      accountKey(FEE_REVENUE),
    ]);
    expect(clearing(p)).toEqual([[stripeFor('order:100'), 1000]]);
    const noEntryReference = refundPosting(
      {
        reference: 'refund:4',
        buyerId: '5',
        merchantId: '1',
        amount: 10,
        fee: 0,
        from: AccountKind.AVAILABLE,
      },
      PROVIDER_CLEARING,
    );
    expect(stripedDebits(noEntryReference.lines)).toEqual([]);
    expect(clearing(noEntryReference)).toEqual([[stripeFor('refund:4'), 10]]);
  });

  test('card payments and top-ups spread over every clearing stripe', () => {
    const stripes = new Set(
      references.flatMap((r, i) =>
        clearing(
          i % 2
            ? topUpPosting('5', 100, r)
            : purchaseWithCardPosting({
                buyerId: '5',
                reference: r,
                parts: [{ merchantId: '1', amount: 100, fee: 1 }],
              }),
        ).map(([stripe]) => stripe),
      ),
    );
    expect(stripes.size).toBe(LEDGER_STRIPES);
  });

  test('a clearing line that names its stripe keeps it', () => {
    const p: PostingInput = {
      kind: PostingKind.ADJUSTMENT,
      reference: 'adj:2',
      lines: [
        { account: { ...PROVIDER_CLEARING, stripe: 0 }, amount: -5, entryKind: LedgerEntryKind.ADJUSTMENT },
        { account: userAvailable('5'), amount: 5, entryKind: LedgerEntryKind.REFUND },
      ],
    };
    expect(clearing(p)).toEqual([[0, -5]]);
  });
});
