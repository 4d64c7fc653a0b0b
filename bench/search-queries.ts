/**
 * The faceted search of the benchmark: `products(filter: {query, attributes}, first: 20)` with
 * facets, over a rotating set of words and colors typical of the generated catalog.
 */
export const SEARCH_QUERY = `query Search($filter: ProductFilter, $first: Int) {
  products(filter: $filter, first: $first) {
    totalCount
    edges { cursor node { id title merchant { name } priceRange { min { amount } max { amount } } availability } }
    pageInfo { hasNextPage endCursor }
    facets { name values { value count } }
  }
}`;

const WORDS = [
  'jacket',
  'cotton tee',
  'leather boot',
  'wool',
  'classic sneak',
  'yoga mat',
  'linen',
  'backpack',
  'merino',
  'ceramic mug',
  'vintage denim',
  'lamp',
  'runner',
  'canvas tote',
  'slim chino',
  'watch',
];
const COLORS = [['Black'], ['Red', 'Blue'], ['Navy'], ['White', 'Grey'], ['Green'], ['Beige', 'Olive']];

export const SEARCH_BODIES: string[] = WORDS.flatMap((query, i) =>
  [0, 1].map((j) =>
    JSON.stringify({
      query: SEARCH_QUERY,
      variables: {
        first: 20,
        filter: { query, attributes: [{ name: 'color', values: COLORS[(i + j) % COLORS.length] }] },
      },
    }),
  ),
);
