import { useMutation } from '@apollo/client/react';
import { useState } from 'react';
import { CheckoutCreate, PaymentStart } from '../documents';
import { session } from '../session';

/**
 * Checkout, then the card payment on the provider's hosted page. The idempotency keys are made
 * once per visit, so a double click or a retry never places two orders or starts two payments.
 */
export function CheckoutPage() {
  const [createCheckout] = useMutation(CheckoutCreate);
  const [startPayment] = useMutation(PaymentStart);
  const [keys] = useState(() => ({ checkout: crypto.randomUUID(), payment: crypto.randomUUID() }));
  const [address, setAddress] = useState({ name: '', line1: '', city: '', postalCode: '', country: 'DE' });
  const [problem, setProblem] = useState<string>();
  const [busy, setBusy] = useState(false);
  const cartId = session.cartId;
  if (!session.token || !cartId) return <p>Sign in and fill your cart first.</p>;

  async function placeOrder() {
    setBusy(true);
    setProblem(undefined);
    try {
      const c = (
        await createCheckout({
          variables: { input: { cartId: cartId!, idempotencyKey: keys.checkout, shippingAddress: address } },
        })
      ).data?.checkoutCreate;
      if (c?.__typename !== 'Checkout')
        return setProblem(c && 'message' in c ? c.message : 'Checkout failed');
      const orderId = c.orders[0].id;
      // The provider sends the shopper back to the order's tracking page on this storefront.
      const returnUrl = `${window.location.origin}/orders/${orderId}`;
      const p = (
        await startPayment({ variables: { checkoutId: c.id, idempotencyKey: keys.payment, returnUrl } })
      ).data?.paymentStart;
      if (p?.__typename !== 'Payment' || !p.redirectUrl)
        return setProblem(p && 'message' in p ? p.message : 'Payment failed');
      session.setCart(null); // the cart became the order
      window.location.assign(p.redirectUrl);
    } catch (e) {
      setProblem((e as Error).message);
    } finally {
      setBusy(false);
    }
  }

  const field = (name: keyof typeof address, label: string) => (
    <label style={{ display: 'block' }}>
      {label}{' '}
      <input
        aria-label={label}
        value={address[name]}
        onChange={(e) => setAddress({ ...address, [name]: e.target.value })}
      />
    </label>
  );
  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        void placeOrder();
      }}
    >
      <h1>Checkout</h1>
      {field('name', 'Name')}
      {field('line1', 'Street')}
      {field('city', 'City')}
      {field('postalCode', 'Postal code')}
      {field('country', 'Country')}
      <button type="submit" disabled={busy} data-testid="pay">
        Place order and pay
      </button>
      {problem && <p role="alert">{problem}</p>}
    </form>
  );
}
