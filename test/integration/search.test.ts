import { adminToken, createCategory, createMerchant, createProduct } from '../factories/catalog';
import { codeOf, type GqlResponse } from '../support/client';
import { startTestApp, type TestApp } from '../support/app';

/*
 * Catalog search against a small catalog built through the API. Every expectation is computed in
 * this file, by brute force over a model of what was created, never by asking the server.
 */

// ---------------------------------------------------------------- the model

interface ModelVariant {
  id: string;
  price: number; // minor units
  onHand: number;
  attributes: { name: string; value: string }[];
}

interface ModelProduct {
  id: string;
  merchantId: string;
  categoryId: string | null;
  title: string;
  description: string;
  collections: string[];
  variants: ModelVariant[];
}

interface Filter {
  query?: string;
  categoryId?: string;
  collection?: string;
  merchantId?: string;
  priceMin?: string;
  priceMax?: string;
  attributes?: { name: string; values: string[] }[];
  inStockOnly?: boolean;
}

type Sort = 'RELEVANCE' | 'PRICE_ASC' | 'PRICE_DESC' | 'NEWEST' | 'BEST_SELLING';
const SORTS: Sort[] = ['RELEVANCE', 'PRICE_ASC', 'PRICE_DESC', 'NEWEST', 'BEST_SELLING'];

const products: ModelProduct[] = [];
/** Category id -> parent id. */
const parents = new Map<string, string | null>();

const num = (id: string) => Number(id);
const minPrice = (p: ModelProduct) => Math.min(...p.variants.map((v) => v.price));
const maxPrice = (p: ModelProduct) => Math.max(...p.variants.map((v) => v.price));
const inStock = (p: ModelProduct) => p.variants.some((v) => v.onHand > 0);
const LOW_STOCK_THRESHOLD = 5; // the default of LOW_STOCK_THRESHOLD
const availability = (p: ModelProduct) => {
  const best = Math.max(...p.variants.map((v) => v.onHand));
  return best === 0 ? 'OUT_OF_STOCK' : best <= LOW_STOCK_THRESHOLD ? 'LOW_STOCK' : 'IN_STOCK';
};
const minor = (amount: string) => Math.round(Number(amount) * 100);
const byId = (id: string) => products.find((p) => p.id === id)!;

function ancestorsOrSelf(categoryId: string | null): string[] {
  const out: string[] = [];
  for (let c = categoryId; c; c = parents.get(c) ?? null) out.push(c);
  return out;
}

// Full text: PostgreSQL's english configuration lower-cases, drops stopwords and stems. The words of
// this catalog stem to themselves except these plurals, so a table is an exact model of it.
const STEMS: Record<string, string> = { jackets: 'jacket', shirts: 'shirt', socks: 'sock', boots: 'boot' };
const STOPWORDS = new Set(['a', 'an', 'the', 'and', 'for', 'by', 'with', 'any', 'of', 's', 't']);
const words = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
const stem = (w: string) => STEMS[w] ?? w;

function documentWords(p: ModelProduct): string[] {
  const attrValues = p.variants.flatMap((v) => v.attributes.map((a) => a.value));
  // Stop words are not in the search document.
  return [p.title, p.description, ...p.collections, ...attrValues]
    .flatMap(words)
    .filter((w) => !STOPWORDS.has(w))
    .map(stem);
}

/**
 * Every non-stopword of the query matches a word. The last one, still being typed, is a prefix of
 * a word either stemmed or as typed, stop words included ("the" finds "thermal").
 */
function matchesQuery(p: ModelProduct, query: string): boolean {
  const typed = words(query).slice(0, 12);
  const doc = documentWords(p);
  return typed.every((w, i) => {
    if (i === typed.length - 1)
      return doc.some((d) => (!STOPWORDS.has(w) && d.startsWith(stem(w))) || d.startsWith(w));
    return STOPWORDS.has(w) || doc.includes(stem(w));
  });
}

const hasAttr = (p: ModelProduct, name: string, values: string[]) =>
  p.variants.some((v) => v.attributes.some((a) => a.name === name && values.includes(a.value)));

/** Attribute filters grouped by name: OR within a name, AND across names. */
function attrGroups(f: Filter): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const a of f.attributes ?? []) groups.set(a.name, [...(groups.get(a.name) ?? []), ...a.values]);
  return groups;
}

function matchesBase(p: ModelProduct, f: Filter): boolean {
  if (f.query && words(f.query).length && !matchesQuery(p, f.query)) return false;
  if (f.categoryId && !ancestorsOrSelf(p.categoryId).includes(f.categoryId)) return false;
  if (f.collection && !p.collections.includes(f.collection)) return false;
  if (f.merchantId && p.merchantId !== f.merchantId) return false;
  if (f.priceMin && maxPrice(p) < minor(f.priceMin)) return false;
  if (f.priceMax && minPrice(p) > minor(f.priceMax)) return false;
  if (f.inStockOnly && !inStock(p)) return false;
  return true;
}

function matchesAttrs(p: ModelProduct, f: Filter, except?: string): boolean {
  return [...attrGroups(f)].every(([name, values]) => name === except || hasAttr(p, name, values));
}

const expectedMatches = (f: Filter) => products.filter((p) => matchesBase(p, f) && matchesAttrs(p, f));

function expectedOrder(f: Filter, sort: Sort): string[] {
  const list = expectedMatches(f);
  const idDesc = (a: ModelProduct, b: ModelProduct) => num(b.id) - num(a.id);
  switch (sort) {
    case 'PRICE_ASC':
      list.sort((a, b) => minPrice(a) - minPrice(b) || num(a.id) - num(b.id));
      break;
    case 'PRICE_DESC':
      list.sort((a, b) => minPrice(b) - minPrice(a) || num(b.id) - num(a.id));
      break;
    case 'RELEVANCE':
      if (f.query && words(f.query).length) throw new Error('rank order is checked by its own test');
      list.sort(idDesc);
      break;
    case 'NEWEST':
    case 'BEST_SELLING': // nothing has been sold: every sales count is 0, so the id breaks the tie
      list.sort(idDesc);
      break;
  }
  return list.map((p) => p.id);
}

const BANDS: [string, number, number][] = [
  ['0-25', 0, 2500],
  ['25-50', 2500, 5000],
  ['50-100', 5000, 10000],
  ['100-200', 10000, 20000],
  ['200-500', 20000, 50000],
  ['500+', 50000, Infinity],
];

type FacetValues = { value: string; count: number }[];

function counted(values: string[]): FacetValues {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts]
    .map(([value, count]) => ({ value, count }))
    .sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
}

function expectedFacets(f: Filter): { name: string; values: FacetValues }[] {
  const matched = expectedMatches(f);
  const category = counted(matched.filter((p) => p.categoryId).map((p) => p.categoryId!));
  const price = BANDS.map(([value, lo, hi]) => ({
    value,
    count: matched.filter((p) => minPrice(p) >= lo && minPrice(p) < hi).length,
  })).filter((b) => b.count > 0);
  // An attribute's facet applies every filter but its own.
  const names = [
    ...new Set(products.flatMap((p) => p.variants.flatMap((v) => v.attributes.map((a) => a.name)))),
  ].sort();
  const attrs = names
    .map((name) => {
      const pool = products.filter((p) => matchesBase(p, f) && matchesAttrs(p, f, name));
      const values = pool.flatMap((p) => [
        ...new Set(
          p.variants.flatMap((v) => v.attributes.filter((a) => a.name === name).map((a) => a.value)),
        ),
      ]);
      return { name, values: counted(values) };
    })
    .filter((facet) => facet.values.length > 0);
  return [{ name: 'category', values: category }, { name: 'price', values: price }, ...attrs];
}

// ---------------------------------------------------------------- the catalog

const COLORS = ['red', 'blue', 'black', 'crimson'];
const SIZES = ['S', 'M', 'L', 'XL'];
const MATERIALS = ['oak', 'steel', 'cotton'];
const PRICES = [999, 2500, 2499, 4999, 5000, 7500, 10000, 15000, 19999, 20000, 35000, 50000, 120000, 0];
const DESCRIPTIONS = [
  'Pairs well with any jacket.',
  'A waterproof shell for stormy days.',
  'Soft and warm for cold evenings.',
  'Handmade by a small workshop.',
  'An everyday essential.',
];
type Slot = 'apparel' | 'outerwear' | 'rainwear' | 'home' | 'none';
const TITLES: Record<Slot, string[]> = {
  apparel: ['Cotton Shirt', 'Linen Shirts', 'Warm Socks', 'Classic Boots'],
  outerwear: ['Wool Jacket', 'Field Coat', 'Leather Jackets'],
  rainwear: ['Rain Jacket', 'Rain Poncho'],
  home: ['Desk Lamp', 'Coffee Mug', 'Jackal Plush'],
  none: ['Gift Card', 'Travel Bag'],
};
const SLOTS: Slot[] = ['apparel', 'outerwear', 'rainwear', 'home', 'none', 'outerwear'];
const PRODUCT_COUNT = 48;

let t: TestApp;
let admin: string;
const merchants: { id: string; token: string }[] = [];
const cat: Record<Exclude<Slot, 'none'>, string> = { apparel: '', outerwear: '', rainwear: '', home: '' };
const tokenOf = (p: ModelProduct) => merchants.find((m) => m.id === p.merchantId)!.token;

function variantsOf(i: number, slot: Slot) {
  const count = 1 + (i % 3);
  return Array.from({ length: count }, (_, j) => {
    const onHand = i % 7 === 2 ? 0 : i % 7 === 4 ? (j === 0 ? 3 : 0) : 10 + j;
    const attributes =
      slot === 'home'
        ? [
            { name: 'color', value: COLORS[(i + 2 * j) % 4] },
            { name: 'material', value: MATERIALS[(i + j) % 3] },
          ]
        : slot === 'none'
          ? []
          : [
              { name: 'color', value: COLORS[(i + j) % 4] },
              { name: 'size', value: SIZES[(i * 3 + j) % 4] },
            ];
    return { price: PRICES[(i * 5 + j * 3) % PRICES.length], onHand, attributes };
  });
}

/** Creates a product through the API and records it in the model. */
async function addProduct(
  merchant: { id: string; token: string },
  spec: {
    title: string;
    description: string;
    categoryId: string | null;
    collections: string[];
    variants: Omit<ModelVariant, 'id'>[];
  },
): Promise<ModelProduct> {
  const created = await createProduct(t.gql, merchant.token, {
    title: spec.title,
    description: spec.description,
    categoryId: spec.categoryId ?? undefined,
    collections: spec.collections,
    variants: spec.variants.map((v) => ({
      price: (v.price / 100).toFixed(2),
      onHand: v.onHand,
      attributes: v.attributes,
    })),
  });
  const p: ModelProduct = {
    id: created.id,
    merchantId: merchant.id,
    ...spec,
    variants: spec.variants.map((v, j) => ({ ...v, id: created.variantIds[j] })),
  };
  products.push(p);
  return p;
}

beforeAll(async () => {
  t = await startTestApp();
  admin = await adminToken(t.gql);
  for (const name of ['North Outfitters', 'Harbor Home', 'Summit Supply'])
    merchants.push(await createMerchant(t.gql, admin, name));
  cat.apparel = await createCategory(t.gql, admin, 'Apparel');
  cat.outerwear = await createCategory(t.gql, admin, 'Outerwear', cat.apparel);
  cat.rainwear = await createCategory(t.gql, admin, 'Rainwear', cat.outerwear);
  cat.home = await createCategory(t.gql, admin, 'Home');
  parents
    .set(cat.apparel, null)
    .set(cat.outerwear, cat.apparel)
    .set(cat.rainwear, cat.outerwear)
    .set(cat.home, null);

  for (let i = 0; i < PRODUCT_COUNT; i++) {
    const slot = SLOTS[i % SLOTS.length];
    const titles = TITLES[slot];
    await addProduct(merchants[i % 3], {
      title: titles[Math.floor(i / SLOTS.length) % titles.length],
      description: DESCRIPTIONS[i % DESCRIPTIONS.length],
      categoryId: slot === 'none' ? null : cat[slot],
      collections: [...(i % 4 === 0 ? ['summer'] : []), ...(i % 7 === 0 ? ['clearance'] : [])],
      variants: variantsOf(i, slot),
    });
  }
});
afterAll(() => t?.stop());

// ---------------------------------------------------------------- the API

const SEARCH = `query($f: ProductFilter, $s: ProductSort, $n: Int, $a: String) {
  products(filter: $f, sort: $s, first: $n, after: $a) {
    totalCount
    facets { name values { value count } }
    edges { cursor node { id title availability priceRange { min { amount } max { amount } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface Page {
  totalCount: number;
  facets: { name: string; values: FacetValues }[];
  edges: { cursor: string; node: { id: string; title: string; availability: string; priceRange: any } }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

async function search(
  filter: Filter,
  opts: { sort?: Sort; first?: number; after?: string | null } = {},
): Promise<GqlResponse<{ products: Page }>> {
  return t.gql(SEARCH, {
    f: filter,
    s: opts.sort ?? 'RELEVANCE',
    n: opts.first ?? 100,
    a: opts.after ?? null,
  });
}

async function page(
  filter: Filter,
  opts: { sort?: Sort; first?: number; after?: string | null } = {},
): Promise<Page> {
  const r = await search(filter, opts);
  expect(r.errors).toBeUndefined();
  return r.data!.products;
}

const idsOf = (p: Page) => p.edges.map((e) => e.node.id);

/** Follows `endCursor` to the end; checks the page sizes, counts and `hasNextPage` on the way. */
async function walk(filter: Filter, sort: Sort, first = 7): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  for (let n = 0; n < 100; n++) {
    const p = await page(filter, { sort, first, after });
    ids.push(...idsOf(p));
    expect(p.totalCount).toBe(expectedMatches(filter).length);
    if (!p.pageInfo.hasNextPage) {
      expect(p.edges.length).toBeLessThanOrEqual(first);
      return ids;
    }
    expect(p.edges).toHaveLength(first);
    expect(p.pageInfo.endCursor).toBe(p.edges[first - 1].cursor);
    after = p.pageInfo.endCursor;
  }
  throw new Error('pagination did not end');
}

const sortedIds = (ids: string[]) => [...ids].sort((a, b) => num(a) - num(b));
const idsWhere = (pred: (p: ModelProduct) => boolean) => sortedIds(products.filter(pred).map((p) => p.id));

// ---------------------------------------------------------------- full text

describe('full-text query', () => {
  test('the catalog is what the model says, with availability and price ranges', async () => {
    const p = await page({}, { sort: 'NEWEST' });
    expect(p.totalCount).toBe(PRODUCT_COUNT);
    expect(p.edges.map((e) => e.node)).toEqual(
      [...products].reverse().map((m) => ({
        id: m.id,
        title: m.title,
        availability: availability(m),
        priceRange: {
          min: { amount: (minPrice(m) / 100).toFixed(2) },
          max: { amount: (maxPrice(m) / 100).toFixed(2) },
        },
      })),
    );
    // The catalog exercises every availability.
    expect(new Set(products.map(availability))).toEqual(new Set(['IN_STOCK', 'LOW_STOCK', 'OUT_OF_STOCK']));
  });

  test.each([
    ['a title word', 'wool', (p: ModelProduct) => p.title.startsWith('Wool ')],
    ['a description-only word', 'waterproof', (p: ModelProduct) => p.description.includes('waterproof')],
    ['an attribute value', 'crimson', (p: ModelProduct) => hasAttr(p, 'color', ['crimson'])],
    ['a collection', 'summer', (p: ModelProduct) => p.collections.includes('summer')],
    [
      'a plural query ("jackets" finds "jacket")',
      'jackets',
      (p: ModelProduct) => /jacket/i.test(p.title + p.description),
    ],
    [
      'a singular query ("jacket" finds "Jackets")',
      'JACKET',
      (p: ModelProduct) => /jacket/i.test(p.title + p.description),
    ],
    [
      'a prefix of the last word ("jack")',
      'jack',
      (p: ModelProduct) => /jack/i.test(p.title + p.description),
    ],
    ['two words, the last as a prefix', 'wool jack', (p: ModelProduct) => p.title === 'Wool Jacket'],
    ['a stopword beside a word', 'the rain', (p: ModelProduct) => p.title.startsWith('Rain ')],
    ['words that are nowhere', 'velvet armchair', () => false],
  ])('%s: %s', async (_what, query, hand) => {
    // The hand-written rule and the brute-force model agree, and the server agrees with both.
    const expected = idsWhere((p) => matchesQuery(p, query));
    expect(expected).toEqual(idsWhere(hand));
    const p = await page({ query });
    expect(sortedIds(idsOf(p))).toEqual(expected);
    expect(p.totalCount).toBe(expected.length);
  });

  test('"jack" finds the jackal as well as the jackets; "jacket" does not', async () => {
    const jackal = idsWhere((p) => p.title === 'Jackal Plush');
    expect(jackal.length).toBeGreaterThan(0);
    const jack = idsOf(await page({ query: 'jack' }));
    const jacket = idsOf(await page({ query: 'jacket' }));
    expect(jack).toEqual(expect.arrayContaining(jackal));
    expect(jacket.filter((id) => jackal.includes(id) && !byId(id).description.includes('jacket'))).toEqual(
      [],
    );
  });

  test('quotes and tsquery operators are plain separators, never syntax', async () => {
    const everything = await page({ query: `'":*&|!()` });
    expect(everything.totalCount).toBe(products.length);

    const injected = await page({ query: "jacket'); drop table product; --" });
    // Every word must match and no product has "drop", "table" or "product".
    expect(injected.totalCount).toBe(0);
    // As tsquery syntax this would be "jacket or not rain"; as words it is "jacket and rain*".
    const operators = await page({ query: 'jacket | !(rain' });
    expect(sortedIds(idsOf(operators))).toEqual(
      idsWhere((p) => p.title.startsWith('Rain ') && /jacket/i.test(p.title + p.description)),
    );
    expect(operators.totalCount).toBeGreaterThan(0);
    expect((await page({})).totalCount).toBe(products.length);
  });

  test('a stop word being typed matches as a prefix ("s" of "soft", "the" of "thermal")', async () => {
    // PostgreSQL's English stop words include "s" and "t", so before the prefix match by the
    // 'simple' configuration "s" found nothing; now it finds every word starting with s.
    for (const query of ['the', 'The AND of', 'a', 'rain a', 'wool the', 's', 'wool s']) {
      const r = await search({ query }, { first: 50 });
      expect(r.errors).toBeUndefined();
      const expected = idsWhere((p) => matchesQuery(p, query));
      expect(r.data!.products.totalCount).toBe(expected.length);
    }
    expect(idsWhere((p) => matchesQuery(p, 's')).length).toBeGreaterThan(10);
    expect(idsWhere((p) => matchesQuery(p, 'wool s')).length).toBeGreaterThan(0);
  });

  test('RELEVANCE ranks title matches above description-only matches', async () => {
    // For one word, ts_rank depends only on where the word is: title (weight A) and description
    // (weight C) ranks above title only, which ranks above description only; ties go to the newer id.
    const tier = (p: ModelProduct) => {
      const inTitle = /jacket/i.test(p.title);
      const inDescription = /jacket/i.test(p.description);
      return inTitle && inDescription ? 0 : inTitle ? 1 : 2;
    };
    const expected = products
      .filter((p) => matchesQuery(p, 'jacket'))
      .sort((a, b) => tier(a) - tier(b) || num(b.id) - num(a.id))
      .map((p) => p.id);
    expect(new Set(products.filter((p) => matchesQuery(p, 'jacket')).map(tier))).toEqual(new Set([0, 1, 2]));

    expect(idsOf(await page({ query: 'jacket' }))).toEqual(expected);
    // The rank is a float in the cursor: walking pages of 7 gives the same sequence.
    expect(await walk({ query: 'jacket' }, 'RELEVANCE')).toEqual(expected);
    expect(await walk({ query: 'jackets', inStockOnly: true }, 'RELEVANCE', 3)).toEqual(
      expected.filter((id) => inStock(byId(id))),
    );
  });
});

// ---------------------------------------------------------------- filters

describe('filters', () => {
  const cases: [string, () => Filter][] = [
    ['the root category includes its child and grandchild', () => ({ categoryId: cat.apparel })],
    ['the child category includes its child', () => ({ categoryId: cat.outerwear })],
    ['a leaf category', () => ({ categoryId: cat.rainwear })],
    ['another root', () => ({ categoryId: cat.home })],
    ['a category without products', () => ({ categoryId: '999999' })],
    ['a collection', () => ({ collection: 'clearance' })],
    ['an unknown collection', () => ({ collection: 'winter' })],
    ['a merchant', () => ({ merchantId: merchants[1].id })],
    ['priceMin (any variant at or above)', () => ({ priceMin: '150' })],
    ['priceMax (any variant at or below)', () => ({ priceMax: '25' })],
    ['a price range on band edges', () => ({ priceMin: '25.00', priceMax: '50' })],
    ['a price range between variant prices', () => ({ priceMin: '120.01', priceMax: '149.99' })],
    ['priceMax 0 finds the free variants', () => ({ priceMax: '0' })],
    ['one attribute value', () => ({ attributes: [{ name: 'color', values: ['red'] }] })],
    [
      'values of one attribute combine with OR',
      () => ({ attributes: [{ name: 'color', values: ['red', 'crimson'] }] }),
    ],
    [
      'two filters on one name merge into one OR',
      () => ({
        attributes: [
          { name: 'color', values: ['red'] },
          { name: 'color', values: ['crimson'] },
        ],
      }),
    ],
    [
      'attributes of different names combine with AND',
      () => ({
        attributes: [
          { name: 'color', values: ['red', 'blue'] },
          { name: 'size', values: ['M'] },
        ],
      }),
    ],
    ['an attribute value no variant has', () => ({ attributes: [{ name: 'size', values: ['XXL'] }] })],
    ['in stock only', () => ({ inStockOnly: true })],
    ['inStockOnly false is no filter', () => ({ inStockOnly: false })],
    [
      'everything at once',
      () => ({
        query: 'jack',
        categoryId: cat.apparel,
        priceMin: '20',
        attributes: [{ name: 'size', values: ['S', 'M', 'L'] }],
        inStockOnly: true,
      }),
    ],
    ['query and merchant', () => ({ query: 'shirt', merchantId: merchants[0].id })],
  ];

  test.each(cases)('%s', async (_what, filterOf) => {
    const filter = filterOf();
    const expected = expectedOrder(filter, 'NEWEST');
    const p = await page(filter, { sort: 'NEWEST' });
    expect(idsOf(p)).toEqual(expected);
    expect(p.totalCount).toBe(expected.length);
  });

  test('the filters are not trivially all or nothing on this catalog', () => {
    for (const [what, filterOf] of cases) {
      const n = expectedMatches(filterOf()).length;
      if (/without products|unknown|no variant has/.test(what)) expect(n).toBe(0);
      else if (/is no filter/.test(what)) expect(n).toBe(products.length);
      else {
        expect(n).toBeGreaterThan(0);
        expect(n).toBeLessThan(products.length);
      }
    }
  });

  test('a category filter includes descendants: root = itself + child + grandchild', async () => {
    const count = async (categoryId: string) => (await page({ categoryId }, { first: 1 })).totalCount;
    const direct = (id: string) => products.filter((p) => p.categoryId === id).length;
    expect(await count(cat.rainwear)).toBe(direct(cat.rainwear));
    expect(await count(cat.outerwear)).toBe(direct(cat.outerwear) + direct(cat.rainwear));
    expect(await count(cat.apparel)).toBe(direct(cat.apparel) + direct(cat.outerwear) + direct(cat.rainwear));
  });

  test('a product matches a price range when any variant price is inside it', async () => {
    // A product whose variants straddle the range (all below the min or above the max) still matches.
    const straddle = products.find(
      (p) => p.variants.length > 1 && minPrice(p) < 10000 && maxPrice(p) > 20000,
    );
    expect(straddle).toBeDefined();
    const r = await page({ priceMin: '150', priceMax: '150' });
    const expected = idsWhere((p) => minPrice(p) <= 15000 && maxPrice(p) >= 15000);
    expect(sortedIds(idsOf(r))).toEqual(expected);
  });
});

// ---------------------------------------------------------------- facets

describe('facets', () => {
  const cases: [string, () => Filter][] = [
    ['no filter', () => ({})],
    ['a query', () => ({ query: 'jack' })],
    ['a category and in stock only', () => ({ categoryId: cat.outerwear, inStockOnly: true })],
    ['one attribute filter', () => ({ attributes: [{ name: 'color', values: ['red'] }] })],
    [
      'two attribute filters and a price',
      () => ({
        priceMax: '200',
        attributes: [
          { name: 'color', values: ['red', 'black'] },
          { name: 'size', values: ['M'] },
        ],
      }),
    ],
    ['a filter that matches nothing', () => ({ collection: 'winter' })],
  ];

  test.each(cases)('%s: totalCount and every facet', async (_what, filterOf) => {
    const filter = filterOf();
    const p = await page(filter, { first: 1 });
    expect(p.totalCount).toBe(expectedMatches(filter).length);
    expect(p.facets).toEqual(expectedFacets(filter));
  });

  test('the unfiltered facets, spelled out for the band edges', async () => {
    const p = await page({}, { first: 0 });
    expect(p.edges).toEqual([]);
    const price = p.facets.find((f) => f.name === 'price')!;
    // Band of the lowest price: 24.99 is in 0-25, 25.00 in 25-50, 500.00 in 500+.
    const band = (lo: number, hi: number) =>
      products.filter((m) => minPrice(m) >= lo && minPrice(m) < hi).length;
    expect(price.values.map((v) => v.value)).toEqual([
      '0-25',
      '25-50',
      '50-100',
      '100-200',
      '200-500',
      '500+',
    ]);
    expect(price.values.map((v) => v.count)).toEqual([
      band(0, 2500),
      band(2500, 5000),
      band(5000, 10000),
      band(10000, 20000),
      band(20000, 50000),
      band(50000, Infinity),
    ]);
    expect(price.values.reduce((s, v) => s + v.count, 0)).toBe(products.length);
    expect(p.facets.map((f) => f.name)).toEqual(['category', 'price', 'color', 'material', 'size']);
    // Products without a category are counted in the total but in no category value.
    const category = p.facets.find((f) => f.name === 'category')!;
    expect(category.values.reduce((s, v) => s + v.count, 0)).toBe(
      products.filter((m) => m.categoryId).length,
    );
    expect(new Set(category.values.map((v) => v.value))).toEqual(new Set(Object.values(cat)));
  });

  test("an attribute's facet ignores its own filter but applies the others", async () => {
    const filter: Filter = {
      attributes: [
        { name: 'color', values: ['red'] },
        { name: 'size', values: ['M'] },
      ],
    };
    const p = await page(filter, { first: 1 });
    const facet = (name: string) =>
      Object.fromEntries(p.facets.find((f) => f.name === name)!.values.map((v) => [v.value, v.count]));

    // color: products of size M, counted by each of their colors (red is not the only value shown).
    const sizeM = products.filter((m) => hasAttr(m, 'size', ['M']));
    for (const color of COLORS) {
      const n = sizeM.filter((m) => hasAttr(m, 'color', [color])).length;
      expect(facet('color')[color] ?? 0).toBe(n);
    }
    expect(Object.keys(facet('color')).length).toBeGreaterThan(1);

    // size: red products, counted by each of their sizes.
    const red = products.filter((m) => hasAttr(m, 'color', ['red']));
    for (const size of SIZES)
      expect(facet('size')[size] ?? 0).toBe(red.filter((m) => hasAttr(m, 'size', [size])).length);

    // The total and the other facets apply both filters.
    const both = red.filter((m) => hasAttr(m, 'size', ['M']));
    expect(p.totalCount).toBe(both.length);
    expect(p.facets.find((f) => f.name === 'price')!.values.reduce((s, v) => s + v.count, 0)).toBe(
      both.length,
    );
  });
});

// ---------------------------------------------------------------- sorts and pagination

describe('sorts and keyset pagination', () => {
  const filters: [string, () => Filter][] = [
    ['everything', () => ({})],
    ['in stock apparel', () => ({ categoryId: cat.apparel, inStockOnly: true })],
    [
      'blue or black, at most 200',
      () => ({ priceMax: '200', attributes: [{ name: 'color', values: ['blue', 'black'] }] }),
    ],
  ];

  for (const sort of SORTS) {
    test.each(filters)(`${sort}, pages of 7: %s`, async (_what, filterOf) => {
      const filter = filterOf();
      const expected = expectedOrder(filter, sort);
      expect(expected.length).toBeGreaterThan(7);
      const walked = await walk(filter, sort);
      expect(walked).toEqual(expected);
      expect(new Set(walked).size).toBe(walked.length);
    });
  }

  test('RELEVANCE without a query is newest first', async () => {
    expect(idsOf(await page({}, { sort: 'RELEVANCE' }))).toEqual(idsOf(await page({}, { sort: 'NEWEST' })));
    expect(idsOf(await page({ query: ' ?! ' }, { sort: 'RELEVANCE' }))).toEqual(expectedOrder({}, 'NEWEST'));
  });

  test('prices tie on many products: the id breaks ties in the sort direction', async () => {
    const prices = products.map(minPrice);
    expect(new Set(prices).size).toBeLessThan(prices.length);
    const asc = idsOf(await page({}, { sort: 'PRICE_ASC' }));
    expect(asc).toEqual(expectedOrder({}, 'PRICE_ASC'));
    expect(idsOf(await page({}, { sort: 'PRICE_DESC' }))).toEqual([...asc].reverse());
  });

  test('a product created between two page fetches causes no duplicate and no skip', async () => {
    // PRICE_ASC, first page of 10 ends at a price of 9.99. Then three products arrive: one cheaper
    // than the cursor (never shown), one at the cursor's price with a newer id and one dearer (both
    // shown in place on later pages).
    const first = await page({}, { sort: 'PRICE_ASC', first: 10 });
    const seen = idsOf(first);
    expect(seen).toEqual(expectedOrder({}, 'PRICE_ASC').slice(0, 10));
    const cursorProduct = byId(seen[9]);
    expect(minPrice(cursorProduct)).toBe(999);
    const late = (title: string, price: number) =>
      addProduct(merchants[2], {
        title,
        description: 'Late arrival.',
        categoryId: cat.apparel,
        collections: [],
        variants: [{ price, onHand: 4, attributes: [{ name: 'color', value: 'red' }] }],
      });
    const cheap = await late('Bargain Scarf', 0);
    const tied = await late('Plain Scarf', 999);
    const dear = await late('Deluxe Scarf', 15000);

    let after = first.pageInfo.endCursor;
    const rest: string[] = [];
    for (;;) {
      const p = await page({}, { sort: 'PRICE_ASC', first: 7, after });
      rest.push(...idsOf(p));
      if (!p.pageInfo.hasNextPage) break;
      after = p.pageInfo.endCursor;
    }
    const all = expectedOrder({}, 'PRICE_ASC');
    expect(rest).toEqual(all.slice(all.indexOf(cursorProduct.id) + 1));
    expect(rest).toEqual(expect.arrayContaining([tied.id, dear.id]));
    expect([...seen, ...rest]).not.toContain(cheap.id);
    const lateIds = [cheap.id, tied.id, dear.id];
    expect([...seen, ...rest].filter((id) => !lateIds.includes(id))).toEqual(
      all.filter((id) => !lateIds.includes(id)),
    );

    // NEWEST: the new product is newer than the cursor, so later pages are exactly the older ones.
    const newest = await page({}, { sort: 'NEWEST', first: 7 });
    const latest = await addProduct(merchants[1], {
      title: 'Latecomer Mug',
      description: 'Late arrival.',
      categoryId: cat.home,
      collections: [],
      variants: [{ price: 1200, onHand: 9, attributes: [{ name: 'material', value: 'oak' }] }],
    });
    const restNewest: string[] = [];
    let a = newest.pageInfo.endCursor;
    for (;;) {
      const p = await page({}, { sort: 'NEWEST', first: 7, after: a });
      restNewest.push(...idsOf(p));
      if (!p.pageInfo.hasNextPage) break;
      a = p.pageInfo.endCursor;
    }
    expect([...idsOf(newest), ...restNewest]).toEqual(
      expectedOrder({}, 'NEWEST').filter((id) => id !== latest.id),
    );
  });

  test('the last page has no next page; an empty result has no cursor', async () => {
    const n = products.length;
    const exact = await page({}, { sort: 'NEWEST', first: n });
    expect(exact.edges).toHaveLength(n);
    expect(exact.pageInfo.hasNextPage).toBe(false);
    const short = await page({}, { sort: 'NEWEST', first: n - 1 });
    expect(short.pageInfo.hasNextPage).toBe(true);
    const none = await page({ collection: 'winter' }, { sort: 'PRICE_ASC', first: 5 });
    expect(none.pageInfo).toEqual({ hasNextPage: false, endCursor: null });
  });
});

// ---------------------------------------------------------------- bad input

describe('bad input is BAD_USER_INPUT, never INTERNAL_SERVER_ERROR', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64url');

  test.each([
    ['first above 100', { first: 101 }],
    ['first far above 100', { first: 1_000_000 }],
    ['negative first', { first: -1 }],
  ])('%s', async (_what, opts) => {
    const r = await search({}, opts);
    expect(codeOf(r)).toBe('BAD_USER_INPUT');
    expect(r.data).toBeNull();
  });

  test('first = 100 is allowed', async () => {
    expect((await page({}, { first: 100 })).edges).toHaveLength(Math.min(100, products.length));
  });

  const cursors: [string, string][] = [
    ['garbage', '%%%not-a-cursor%%%'],
    ['not JSON', b64('hello')],
    ['an object', b64('{"id":1}')],
    ['numbers', b64('[1,2]')],
    ['too many values', b64('["1","2","3"]')],
    ['non-numeric strings', b64('["abc","def"]')],
    ['overlong', 'A'.repeat(500)],
  ];
  // Numeric-looking values in the cursor's own shape (one value for id order, two for keyed order)
  // that no column can hold.
  const forged: [string, string][] = [
    ['an id beyond bigint', '99999999999999999999'],
    ['a fractional value', '1.5'],
    ['an exponent beyond real', '1e999'],
  ];

  for (const sort of SORTS) {
    test.each(cursors)(`${sort}: after = %s`, async (_what, after) => {
      for (const query of [undefined, 'jacket']) {
        const r = await search({ query }, { sort, first: 3, after });
        expect(r.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
        expect(r.data).toBeNull();
      }
    });

    test.each(forged)(`${sort}: after = %s`, async (_what, value) => {
      for (const query of [undefined, 'jacket']) {
        const idOrder = sort === 'NEWEST' || (sort === 'RELEVANCE' && !query);
        const r = await search(
          { query },
          { sort, first: 3, after: b64(JSON.stringify(idOrder ? [value] : [value, value])) },
        );
        expect(r.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
        expect(r.data).toBeNull();
      }
    });
  }

  test.each([
    ['a price that is not an amount', { priceMin: 'ten' }],
    ['a negative price', { priceMax: '-1' }],
    ['a price beyond the maximum', { priceMin: '999999999999' }],
    ['a category id that is not a number', { categoryId: 'abc' }],
    ['a category id beyond bigint', { categoryId: '9999999999999999999' }],
    ['a merchant id beyond bigint', { merchantId: '9223372036854775808' }],
    ['an overlong query', { query: 'x'.repeat(201) }],
    ['an attribute name with "="', { attributes: [{ name: 'color=red', values: ['x'] }] }],
    ['an attribute filter without values', { attributes: [{ name: 'color', values: [] }] }],
    ['a control character (NUL) in the query', { query: '\u0000 jacket' }],
  ])('filter with %s', async (_what, filter) => {
    const r = await search(filter as Filter);
    expect(r.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  });

  test('odd but valid input is answered', async () => {
    for (const filter of [
      { query: '\u202e🙂 jacket\t' },
      { query: '%_\\' },
      { collection: `"quoted", {braces}` },
      { attributes: [{ name: 'color', values: ['"', '\\', '{}', ','] }] },
      { categoryId: '9223372036854775807', merchantId: '0' },
    ] as Filter[]) {
      const r = await search(filter);
      expect(r.errors).toBeUndefined();
      expect(r.data!.products.totalCount).toBe(expectedMatches(filter).length);
    }
  });
});

// ---------------------------------------------------------------- writes keep search current

describe('product writes update search at once', () => {
  const UPDATE = `mutation($id: ID!, $i: ProductUpdateInput!) { productUpdate(id: $id, input: $i) { id title collections category { id } } }`;
  const INVENTORY = `mutation($v: ID!, $n: Int!) { inventorySet(variantId: $v, onHand: $n) { onHand available } }`;

  test('a new title is found by its new word, no longer by the old one', async () => {
    const lamp = products.find((p) => p.title === 'Desk Lamp')!;
    const r = await t.gql(UPDATE, { id: lamp.id, i: { title: 'Velvet Lamp' } }, tokenOf(lamp));
    expect(r.errors).toBeUndefined();
    lamp.title = 'Velvet Lamp';

    expect(idsOf(await page({ query: 'velvet' }))).toEqual([lamp.id]);
    const desk = await page({ query: 'desk' });
    expect(idsOf(desk)).not.toContain(lamp.id);
    expect(sortedIds(idsOf(desk))).toEqual(idsWhere((p) => matchesQuery(p, 'desk')));
    expect(idsOf(await page({ query: 'lamp' }))).toContain(lamp.id);
  });

  test('new collections and a new category are searchable at once', async () => {
    const mug = products.find((p) => p.title === 'Coffee Mug' && p.categoryId === cat.home)!;
    const r = await t.gql(
      UPDATE,
      { id: mug.id, i: { collections: ['giftable'], categoryId: cat.rainwear } },
      tokenOf(mug),
    );
    expect(r.data.productUpdate).toEqual({
      id: mug.id,
      title: 'Coffee Mug',
      collections: ['giftable'],
      category: { id: cat.rainwear },
    });
    mug.collections = ['giftable'];
    mug.categoryId = cat.rainwear;

    expect(idsOf(await page({ collection: 'giftable' }))).toEqual([mug.id]);
    expect(idsOf(await page({ query: 'giftable' }))).toEqual([mug.id]);
    expect(idsOf(await page({ categoryId: cat.apparel }, { sort: 'NEWEST' }))).toEqual(
      expectedOrder({ categoryId: cat.apparel }, 'NEWEST'),
    );
    expect(idsOf(await page({ categoryId: cat.apparel }))).toContain(mug.id);
    expect(idsOf(await page({ categoryId: cat.home }))).not.toContain(mug.id);
  });

  test('stock to 0 on every variant: out of inStockOnly and OUT_OF_STOCK; back to 3: LOW_STOCK', async () => {
    const target = products.find((p) => inStock(p) && p.variants.length === 3)!;
    const token = tokenOf(target);
    const node = async () =>
      (await page({ merchantId: target.merchantId }, { sort: 'NEWEST' })).edges.find(
        (e) => e.node.id === target.id,
      )!.node;
    expect((await node()).availability).toBe('IN_STOCK');

    for (const v of target.variants) {
      const r = await t.gql(INVENTORY, { v: v.id, n: 0 }, token);
      expect(r.data.inventorySet).toEqual({ onHand: 0, available: 0 });
      v.onHand = 0;
    }
    expect((await node()).availability).toBe('OUT_OF_STOCK');
    const inStockIds = await walk({ inStockOnly: true }, 'NEWEST');
    expect(inStockIds).not.toContain(target.id);
    expect(inStockIds).toEqual(expectedOrder({ inStockOnly: true }, 'NEWEST'));

    const r = await t.gql(INVENTORY, { v: target.variants[1].id, n: 3 }, token);
    expect(r.data.inventorySet).toEqual({ onHand: 3, available: 3 });
    target.variants[1].onHand = 3;
    expect((await node()).availability).toBe('LOW_STOCK');
    expect(idsOf(await page({ inStockOnly: true }, { sort: 'NEWEST' }))).toEqual(
      expectedOrder({ inStockOnly: true }, 'NEWEST'),
    );
  });

  test('a new product with quotes, commas and braces in attribute values is found by them at once', async () => {
    const odd = await addProduct(merchants[1], {
      title: 'Odd Hanger',
      description: 'Values that need quoting in an array literal.',
      categoryId: cat.home,
      collections: [],
      variants: [
        {
          price: 1000,
          onHand: 8,
          attributes: [
            { name: 'fit', value: '5" wide, {loose}' },
            { name: 'finish', value: 'back\\slash' },
          ],
        },
        {
          price: 1100,
          onHand: 8,
          attributes: [
            { name: 'fit', value: 'NULL' },
            { name: 'finish', value: 'matte' },
          ],
        },
      ],
    });
    for (const value of ['5" wide, {loose}', 'NULL']) {
      expect(idsOf(await page({ attributes: [{ name: 'fit', values: [value] }] }))).toEqual([odd.id]);
    }
    expect(idsOf(await page({ attributes: [{ name: 'finish', values: ['back\\slash'] }] }))).toEqual([
      odd.id,
    ]);
    expect(idsOf(await page({ attributes: [{ name: 'fit', values: ['5'] }] }))).toEqual([]);
    expect(idsOf(await page({ query: 'loose' }))).toEqual([odd.id]);

    const filter: Filter = { attributes: [{ name: 'finish', values: ['matte'] }] };
    const p = await page(filter, { first: 1 });
    expect(p.facets).toEqual(expectedFacets(filter));
    expect(p.facets.find((f) => f.name === 'fit')!.values).toEqual([
      { value: '5" wide, {loose}', count: 1 },
      { value: 'NULL', count: 1 },
    ]);
  });

  test('after all writes, every filter, facet and count still agrees with the model', async () => {
    for (const filter of [
      {},
      { inStockOnly: true },
      { query: 'lamp' },
      { categoryId: cat.outerwear },
    ] as Filter[]) {
      const p = await page(filter, { sort: 'PRICE_DESC' });
      expect(idsOf(p)).toEqual(expectedOrder(filter, 'PRICE_DESC'));
      expect(p.facets).toEqual(expectedFacets(filter));
    }
  });
});
