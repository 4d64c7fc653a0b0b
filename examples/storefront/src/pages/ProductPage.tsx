import { useMutation, useQuery } from '@apollo/client/react';
import { useEffect, useState } from 'react';
import { CartCreate, CartLinesAdd, ProductBySlug } from '../documents';
import { money } from '../money';
import { navigate } from '../router';
import { session } from '../session';

/** A product by its slug (/products/<slug>), with "Add to cart". */
export function ProductPage({ slug }: { slug: string }) {
  const { data, loading, error } = useQuery(ProductBySlug, { variables: { slug } });
  const [createCart] = useMutation(CartCreate);
  const [addLines] = useMutation(CartLinesAdd);
  const [variantId, setVariantId] = useState<string>();
  const [problem, setProblem] = useState<string>();
  const product = data?.product;
  useEffect(() => {
    if (product?.seo.title) document.title = product.seo.title;
  }, [product?.seo.title]);
  if (loading && !data) return <p>Loading…</p>;
  if (error) return <p role="alert">{error.message}</p>;
  if (!product) return <p>No such product.</p>;
  const chosen = variantId ?? product.variants[0]?.id;

  async function addToCart() {
    if (!chosen) return;
    const lines = [{ variantId: chosen, quantity: 1 }];
    const cartId = session.cartId;
    const r = cartId
      ? (await addLines({ variables: { cartId, lines }, refetchQueries: ['CartById'] })).data?.cartLinesAdd
      : (await createCart({ variables: { lines } })).data?.cartCreate;
    if (r?.__typename === 'Cart') {
      session.setCart(r.id);
      navigate('/cart');
    } else setProblem(r && 'message' in r ? r.message : 'Could not add to cart');
  }

  return (
    <article>
      <h1 data-testid="product-title">{product.title}</h1>
      {product.media[0] && (
        <img src={product.media[0].url} alt={product.media[0].alt ?? ''} width={240} height={240} />
      )}
      <p>{product.description}</p>
      <select aria-label="Variant" value={chosen} onChange={(e) => setVariantId(e.target.value)}>
        {product.variants.map((v) => (
          <option key={v.id} value={v.id}>
            {v.title}: {money(v.price)} ({v.availability})
          </option>
        ))}
      </select>
      <button onClick={addToCart} data-testid="add-to-cart">
        Add to cart
      </button>
      {problem && <p role="alert">{problem}</p>}
    </article>
  );
}
