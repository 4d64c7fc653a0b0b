import { useQuery } from '@apollo/client/react';
import { CartById } from '../documents';
import { Link, useLocation } from '../router';
import { session } from '../session';

export function Header() {
  useLocation(); // re-render on navigation (sign-in and cart changes navigate)
  const cartId = session.cartId;
  const { data } = useQuery(CartById, { variables: { id: cartId ?? '' }, skip: !cartId });
  return (
    <header style={{ display: 'flex', gap: '1rem', borderBottom: '1px solid #ddd', padding: '.5rem 0' }}>
      <Link href="/">Search</Link>
      <Link href="/cart" data-testid="cart-link">
        Cart (<span data-testid="cart-count">{data?.cart?.itemCount ?? 0}</span>)
      </Link>
      {session.token ? (
        <span data-testid="signed-in">Signed in as {session.name}</span>
      ) : (
        <Link href="/sign-in">Sign in</Link>
      )}
    </header>
  );
}
