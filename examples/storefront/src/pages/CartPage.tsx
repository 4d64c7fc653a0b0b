import { useQuery } from '@apollo/client/react';
import { CartById } from '../documents';
import { money } from '../money';
import { Link } from '../router';
import { session } from '../session';

export function CartPage() {
  const cartId = session.cartId;
  const { data, loading } = useQuery(CartById, {
    variables: { id: cartId ?? '' },
    skip: !cartId,
    fetchPolicy: 'cache-and-network',
  });
  if (!cartId) return <p>Your cart is empty.</p>;
  if (loading && !data) return <p>Loading…</p>;
  const cart = data?.cart;
  if (!cart) return <p>Your cart is empty.</p>;
  return (
    <section>
      <h1>Cart</h1>
      <ul data-testid="cart-lines">
        {cart.lines.map((l) => (
          <li key={l.id}>
            {l.quantity} × {l.variant.product.title} ({l.variant.title}): {money(l.lineTotal)}
          </li>
        ))}
      </ul>
      <p>
        Total: <span data-testid="cart-total">{money(cart.total)}</span>
      </p>
      {session.token ? (
        <Link href="/checkout" data-testid="to-checkout">
          Checkout
        </Link>
      ) : (
        <Link href="/sign-in?next=/checkout" data-testid="sign-in-to-checkout">
          Sign in to check out
        </Link>
      )}
    </section>
  );
}
