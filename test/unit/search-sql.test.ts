import 'reflect-metadata';
import { GraphQLError } from 'graphql';
import { encodeCursor } from '../../src/shared/pagination';
import {
  pageStatement,
  shapeStats,
  statsStatement,
  toTsQuery,
  type SearchFilter,
  type SearchSort,
  type StatsRow,
} from '../../src/modules/catalog/search.sql';

// ---------------------------------------------------------------- helpers

const ALL_SORTS: SearchSort[] = ['RELEVANCE', 'PRICE_ASC', 'PRICE_DESC', 'NEWEST', 'BEST_SELLING'];
const BANDS = ['0-25', '25-50', '50-100', '100-200', '200-500', '500+'];

/** A cursor as a client could forge it: base64url of any text. */
const rawCursor = (text: string) => Buffer.from(text).toString('base64url');

/** The error `fn` throws, or fails the test when it throws nothing. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error, nothing was thrown');
}

function expectBadInput(fn: () => unknown) {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(GraphQLError);
  expect((e as GraphQLError).extensions.code).toBe('BAD_USER_INPUT');
}

/** The distinct `$n` placeholders of a statement, in ascending order. */
const placeholders = (sql: string) =>
  [...new Set([...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])))].sort((a, b) => a - b);

/** Every parameter is referenced and every reference has a parameter. */
function expectPlaceholdersMatch(sql: string, params: unknown[]) {
  expect(placeholders(sql)).toEqual(params.map((_, i) => i + 1));
}

const decode = (cursor: string) => JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));

const FULL_FILTER: SearchFilter = {
  query: 'Red JACK',
  categoryId: '5',
  collection: 'summer',
  merchantId: '7',
  priceMin: '10',
  priceMax: '20.5',
  attributes: [
    { name: 'color', values: ['red', 'blue'] },
    { name: 'size', values: ['M'] },
    { name: 'color', values: ['red', 'green'] },
  ],
  inStockOnly: true,
};

// ---------------------------------------------------------------- toTsQuery

describe('toTsQuery', () => {
  test('every word must match and the last one matches as a prefix, lower-cased', () => {
    expect(toTsQuery('Red JACK')).toBe("'red' & 'jack':*");
    expect(toTsQuery('jacket')).toBe("'jacket':*");
    expect(toTsQuery('  wool   rain  coat ')).toBe("'wool' & 'rain' & 'coat':*");
  });

  test('letters and digits of any script are words; everything else separates words', () => {
    expect(toTsQuery('Café 2024')).toBe("'café' & '2024':*");
    expect(toTsQuery('t-shirt/XL')).toBe("'t' & 'shirt' & 'xl':*");
    expect(toTsQuery('über_größe')).toBe("'über' & 'größe':*");
  });

  test('tsquery operators and quotes never reach the query text', () => {
    expect(toTsQuery(`'":*&|!()`)).toBeNull();
    expect(toTsQuery('jacket & !wool | (rain')).toBe("'jacket' & 'wool' & 'rain':*");
    expect(toTsQuery("jacket'); drop table product; --")).toBe("'jacket' & 'drop' & 'table' & 'product':*");
    expect(toTsQuery("o'brien:*")).toBe("'o' & 'brien':*");
    expect(toTsQuery('a\\b')).toBe("'a' & 'b':*");
    for (const text of [`'":*&|!()`, "x'y", 'a:*b', '<->', "\\'", 'it\'s "quoted"']) {
      const q = toTsQuery(text);
      // Only quoted words, '&' and the final ':*' remain.
      if (q !== null) expect(q).toMatch(/^'[\p{L}\p{N}]+'( & '[\p{L}\p{N}]+')*:\*$/u);
    }
  });

  test('nothing searchable is null', () => {
    expect(toTsQuery('')).toBeNull();
    expect(toTsQuery('   ')).toBeNull();
    expect(toTsQuery('!!! ??? ---')).toBeNull();
  });

  test('at most 12 words are used; the 12th is the prefix', () => {
    const words = Array.from({ length: 15 }, (_, i) => `w${i}`);
    expect(toTsQuery(words.join(' '))).toBe(
      "'w0' & 'w1' & 'w2' & 'w3' & 'w4' & 'w5' & 'w6' & 'w7' & 'w8' & 'w9' & 'w10' & 'w11':*",
    );
  });
});

// ---------------------------------------------------------------- pageStatement

describe('pageStatement', () => {
  test('no filter: no where clause, newest first, first + 1 rows', () => {
    const s = pageStatement({}, 'NEWEST', 20);
    expect(s.params).toEqual([21]);
    expect(s.sql).not.toMatch(/\bwhere\b/);
    expect(s.sql).toMatch(/order by p\.id desc limit \$1$/);
    expectPlaceholdersMatch(s.sql, s.params);
  });

  test('every filter becomes one bound parameter, attribute values of one name merged', () => {
    const s = pageStatement(FULL_FILTER, 'PRICE_ASC', 10);
    // The typed (last) word is bound once and matched with both configurations; earlier words once.
    expect(s.params).toEqual([
      "'jack':*",
      "'red'",
      '5',
      'summer',
      '7',
      1000,
      2050,
      ['color=red', 'color=blue', 'color=green'],
      ['size=M'],
      11,
    ]);
    expectPlaceholdersMatch(s.sql, s.params);
    // Shopper text is only ever a bound value.
    expect(s.sql).not.toContain('jack');
    expect(s.sql).not.toContain('summer');
  });

  test('an empty or punctuation-only query adds no full-text condition', () => {
    for (const query of ['', '  ', `'":*&|!()`]) {
      const s = pageStatement({ query }, 'RELEVANCE', 5);
      expect(s.params).toEqual([6]);
      expect(s.sql).not.toContain('to_tsquery');
    }
  });

  test('RELEVANCE with a query orders by rank, without a query by id', () => {
    const ranked = pageStatement({ query: 'jacket' }, 'RELEVANCE', 5);
    expect(ranked.params).toEqual(["'jacket':*", 6]);
    expect(ranked.sql).toContain(
      "order by ts_rank(p.search, (to_tsquery('english', $1) || to_tsquery('simple', $1))) desc, p.id desc",
    );
    const unranked = pageStatement({}, 'RELEVANCE', 5);
    expect(unranked.sql).toMatch(/order by p\.id desc limit \$1$/);
  });

  test.each([
    ['PRICE_ASC', 'order by p.price_min asc, p.id asc'],
    ['PRICE_DESC', 'order by p.price_min desc, p.id desc'],
    ['BEST_SELLING', 'order by p.sold_total desc, p.id desc'],
    ['NEWEST', 'order by p.id desc'],
  ] as [SearchSort, string][])('%s orders by %s', (sort, order) => {
    expect(pageStatement({}, sort, 3).sql).toContain(order);
  });

  test('a keyed cursor continues after (key, id) in the sort direction', () => {
    const asc = pageStatement({ merchantId: '7' }, 'PRICE_ASC', 10, encodeCursor(['1500', '42']));
    expect(asc.params).toEqual(['7', '1500', '42', 11]);
    expect(asc.sql).toContain('(p.price_min, p.id) > ($2::bigint, $3::bigint)');
    expectPlaceholdersMatch(asc.sql, asc.params);

    const desc = pageStatement({}, 'PRICE_DESC', 10, encodeCursor(['1500', '42']));
    expect(desc.params).toEqual(['1500', '42', 11]);
    expect(desc.sql).toContain('(p.price_min, p.id) < ($1::bigint, $2::bigint)');

    const rank = pageStatement({ query: 'jacket' }, 'RELEVANCE', 10, encodeCursor(['0.0607927', '9']));
    expect(rank.params).toEqual(["'jacket':*", '0.0607927', '9', 11]);
    expect(rank.sql).toContain(
      "(ts_rank(p.search, (to_tsquery('english', $1) || to_tsquery('simple', $1))), p.id) < ($2::real, $3::bigint)",
    );
    expectPlaceholdersMatch(rank.sql, rank.params);
  });

  test('an id cursor continues below the id', () => {
    const s = pageStatement({ inStockOnly: true }, 'NEWEST', 7, encodeCursor(['100']));
    expect(s.params).toEqual(['100', 8]);
    expect(s.sql).toContain('where p.in_stock and p.id < $1::bigint');
  });

  test('cursorOf round-trips through the statement of the next page', () => {
    const s = pageStatement({}, 'PRICE_ASC', 2);
    const cursor = s.cursorOf({ id: '17', sort_key: '2500' });
    expect(decode(cursor)).toEqual(['2500', '17']);
    expect(pageStatement({}, 'PRICE_ASC', 2, cursor).params).toEqual(['2500', '17', 3]);

    const n = pageStatement({}, 'NEWEST', 2);
    const idCursor = n.cursorOf({ id: '17' });
    expect(decode(idCursor)).toEqual(['17']);
    expect(pageStatement({}, 'NEWEST', 2, idCursor).params).toEqual(['17', 3]);
  });

  test('malformed prices are BAD_USER_INPUT', () => {
    for (const priceMin of ['abc', '-5', '1.999', '1e3', '9999999999999']) {
      expectBadInput(() => pageStatement({ priceMin }, 'NEWEST', 5));
      expectBadInput(() => statsStatement({ priceMax: priceMin }));
    }
  });
});

// ---------------------------------------------------------------- cursors

describe('malformed cursors are BAD_USER_INPUT', () => {
  const malformed: [string, string][] = [
    ['garbage characters', '!!not a cursor!!'],
    ['base64 padding', `${encodeCursor(['1'])}==`],
    ['not JSON', rawCursor('hello world')],
    ['a JSON object', rawCursor('{"id":"1"}')],
    ['a JSON string', rawCursor('"1"')],
    ['an empty array', rawCursor('[]')],
    ['numbers instead of strings', rawCursor('[1,2]')],
    ['null values', rawCursor('[null,null]')],
    ['non-numeric strings', encodeCursor(['abc', 'def'])],
    ['SQL in a string', encodeCursor(['1); drop table product; --', '1'])],
    ['three values', encodeCursor(['1', '2', '3'])],
    ['overlong text', 'A'.repeat(201)],
    ['an overlong array', encodeCursor(Array.from({ length: 40 }, () => '1'))],
  ];

  test.each(malformed)('%s', (_what, cursor) => {
    for (const sort of ALL_SORTS) {
      expectBadInput(() => pageStatement({ query: 'jacket' }, sort, 5, cursor));
      expectBadInput(() => pageStatement({}, sort, 5, cursor));
    }
  });

  test('a cursor of one shape is rejected by a sort of another shape', () => {
    expectBadInput(() => pageStatement({}, 'PRICE_ASC', 5, encodeCursor(['10'])));
    expectBadInput(() => pageStatement({}, 'NEWEST', 5, encodeCursor(['2500', '10'])));
  });

  // Values that look numeric but cannot be the bigint or real they are compared with: they would
  // fail in PostgreSQL (INTERNAL_SERVER_ERROR) if they got that far.
  test.each([
    ['an id beyond bigint', 'NEWEST', ['9223372036854775808']],
    ['a 30-digit id', 'NEWEST', ['1'.repeat(30)]],
    ['a fractional id', 'NEWEST', ['1.5']],
    ['an exponent id', 'NEWEST', ['1e5']],
    ['a negative id', 'NEWEST', ['-1']],
    ['a fractional price', 'PRICE_ASC', ['12.5', '3']],
    ['a price beyond bigint', 'PRICE_DESC', ['99999999999999999999', '3']],
    ['an exponent sales count', 'BEST_SELLING', ['1e3', '3']],
    ['a rank beyond real', 'RELEVANCE', ['1e999', '3']],
    ['a fractional id after a rank', 'RELEVANCE', ['0.5', '3.5']],
  ] as [string, SearchSort, string[]][])('%s', (_what, sort, values) => {
    expectBadInput(() => pageStatement({ query: 'jacket' }, sort, 5, encodeCursor(values)));
  });

  test('well-formed cursors are accepted', () => {
    expect(pageStatement({}, 'NEWEST', 5, encodeCursor(['9223372036854775807'])).params[0]).toBe(
      '9223372036854775807',
    );
    expect(pageStatement({}, 'PRICE_ASC', 5, encodeCursor(['0', '1'])).params).toEqual(['0', '1', 6]);
    expect(pageStatement({ query: 'x' }, 'RELEVANCE', 5, encodeCursor(['6.07927e-05', '1'])).params).toEqual([
      "'x':*",
      '6.07927e-05',
      '1',
      6,
    ]);
  });
});

// ---------------------------------------------------------------- statsStatement

describe('statsStatement', () => {
  test('without filters only the band labels are parameters', () => {
    const s = statsStatement({});
    expect(s.params).toEqual(BANDS);
    expectPlaceholdersMatch(s.sql, s.params);
  });

  test('base filters, then attribute conditions, then the names each facet ignores, then bands', () => {
    const s = statsStatement(FULL_FILTER);
    expect(s.params).toEqual([
      "'jack':*",
      "'red'",
      '5',
      'summer',
      '7',
      1000,
      2050,
      ['color=red', 'color=blue', 'color=green'],
      ['size=M'],
      'color',
      'size',
      ...BANDS,
    ]);
    expectPlaceholdersMatch(s.sql, s.params);
  });

  test('base filters are applied once to the matched set; attribute filters are not part of it', () => {
    const s = statsStatement({ merchantId: '3', attributes: [{ name: 'color', values: ['red'] }] });
    const matched = /with matched as materialized \(([\s\S]*?)\n\)/.exec(s.sql)![1];
    expect(matched).toContain('p.merchant_id = $1::bigint');
    expect(matched).not.toContain('p.attrs &&');
    expect(s.sql.match(/p\.attrs && \$2::text\[\]/g)).toHaveLength(4);
  });
});

// ---------------------------------------------------------------- shapeStats

describe('shapeStats', () => {
  test('empty rows: zero total, empty category and price facets', () => {
    expect(shapeStats([])).toEqual({
      totalCount: 0,
      facets: [
        { name: 'category', values: [] },
        { name: 'price', values: [] },
      ],
    });
  });

  test('orders categories and attribute values by count then value, bands by band, attributes by name; categories carry their names', () => {
    const rows: StatsRow[] = [
      { facet: 'attr', value: 'size=M', count: 2, label: null },
      { facet: 'price', value: '500+', count: 1, label: null },
      { facet: 'category', value: '3', count: 2, label: 'Cat 3' },
      { facet: 'attr', value: 'color=red', count: 4, label: null },
      { facet: 'price', value: '25-50', count: 5, label: null },
      { facet: 'category', value: '1', count: 7, label: 'Cat 1' },
      { facet: 'attr', value: 'size=L', count: 2, label: null },
      { facet: 'price', value: '0-25', count: 1, label: null },
      { facet: 'attr', value: 'color=blue', count: 9, label: null },
      { facet: 'category', value: '2', count: 2, label: 'Cat 2' },
      { facet: 'total', value: null, count: 12, label: null },
      { facet: 'price', value: '100-200', count: 5, label: null },
      { facet: 'attr', value: 'material=oak', count: 1, label: null },
    ];
    expect(shapeStats(rows)).toEqual({
      totalCount: 12,
      facets: [
        {
          name: 'category',
          values: [
            { value: '1', count: 7, label: 'Cat 1' },
            { value: '2', count: 2, label: 'Cat 2' },
            { value: '3', count: 2, label: 'Cat 3' },
          ],
        },
        {
          name: 'price',
          values: [
            { value: '0-25', count: 1, label: '0-25' },
            { value: '25-50', count: 5, label: '25-50' },
            { value: '100-200', count: 5, label: '100-200' },
            { value: '500+', count: 1, label: '500+' },
          ],
        },
        {
          name: 'color',
          values: [
            { value: 'blue', count: 9, label: 'blue' },
            { value: 'red', count: 4, label: 'red' },
          ],
        },
        { name: 'material', values: [{ value: 'oak', count: 1, label: 'oak' }] },
        {
          name: 'size',
          values: [
            { value: 'L', count: 2, label: 'L' },
            { value: 'M', count: 2, label: 'M' },
          ],
        },
      ],
    });
  });

  test('an attribute value containing "=" keeps everything after the first "="', () => {
    const { facets } = shapeStats([{ facet: 'attr', value: 'ratio=1=2', count: 3, label: null }]);
    expect(facets[2]).toEqual({ name: 'ratio', values: [{ value: '1=2', count: 3, label: '1=2' }] });
  });
});
