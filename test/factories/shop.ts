import type { Gql } from '../support/client';

/** Carts and checkouts through the public API, as a storefront would drive them. */

export const ADDRESS = {
  name: 'Ada Buyer',
  line1: '1 Main St',
  city: 'Berlin',
  postalCode: '10115',
  country: 'DE',
};

export const CART_FIELDS = `id itemCount subtotal { amount } discount { amount } total { amount }
  coupon { code } lines { id quantity unitPrice { amount } lineTotal { amount } variant { id } }`;

export async function createCart(
  gql: Gql,
  lines: { variantId: string; quantity: number }[],
  token?: string,
): Promise<string> {
  const r = await gql(
    `mutation($l: [CartLineInput!]) { cartCreate(lines: $l) { __typename ... on Cart { id } ... on ErrorResult { errorCode message } } }`,
    { l: lines },
    token,
  );
  if (r.data?.cartCreate?.__typename !== 'Cart') throw new Error(`cartCreate failed: ${JSON.stringify(r)}`);
  return r.data.cartCreate.id;
}

export const CHECKOUT = `mutation($i: CheckoutInput!) { checkoutCreate(input: $i) {
  __typename
  ... on Checkout { id total { amount } paymentDeadline orders { id status total { amount } merchant { id } lines { sku quantity lineTotal { amount } } } }
  ... on OutOfStockError { errorCode variantId requested available }
  ... on ErrorResult { errorCode message } } }`;

export function checkout(
  gql: Gql,
  token: string,
  cartId: string,
  key: string,
  extra: Record<string, unknown> = {},
) {
  return gql(CHECKOUT, { i: { cartId, idempotencyKey: key, shippingAddress: ADDRESS, ...extra } }, token);
}
