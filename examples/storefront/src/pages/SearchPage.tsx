import { useQuery } from '@apollo/client/react';
import { useState } from 'react';
import { SearchProducts } from '../documents';
import { money } from '../money';
import { Link, navigate, useLocation } from '../router';

/** Search with facets; the query and the chosen category live in the URL (?q=…&category=…). */
export function SearchPage() {
  const url = useLocation();
  const q = url.searchParams.get('q') ?? '';
  const categoryId = url.searchParams.get('category');
  const [text, setText] = useState(q);
  const { data, loading, error } = useQuery(SearchProducts, {
    variables: { query: q || null, categoryId, first: 24 },
  });
  const go = (params: Record<string, string | null>) => {
    const next = new URLSearchParams(url.search);
    for (const [k, v] of Object.entries(params))
      if (v) next.set(k, v);
      else next.delete(k);
    navigate(`/?${next}`);
  };
  const products = data?.products;
  return (
    <section>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          go({ q: text.trim() || null, category: null });
        }}
      >
        <input aria-label="Search" name="q" value={text} onChange={(e) => setText(e.target.value)} />
        <button type="submit">Search</button>
      </form>
      {error && <p role="alert">{error.message}</p>}
      {loading && !data && <p>Loading…</p>}
      {products && (
        <div style={{ display: 'flex', gap: '2rem' }}>
          <aside data-testid="facets">
            {products.facets.map((f) => (
              <div key={f.name}>
                <h4>{f.name}</h4>
                {f.values.map((v) => (
                  <button
                    key={v.value}
                    data-testid={`facet-${f.name}`}
                    disabled={f.name !== 'category'}
                    onClick={() => go({ category: categoryId === v.value ? null : v.value })}
                  >
                    {v.label} ({v.count})
                  </button>
                ))}
              </div>
            ))}
          </aside>
          <div>
            <p data-testid="result-count">{products.totalCount} products</p>
            <ul>
              {products.edges.map(({ node }) => (
                <li key={node.id}>
                  <Link href={`/products/${node.slug}`} data-testid="product-link">
                    {node.title}
                  </Link>{' '}
                  from {money(node.priceRange.min)}
                </li>
              ))}
            </ul>
          </div>
        </div>
      )}
    </section>
  );
}
