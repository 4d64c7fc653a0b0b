/**
 * A cart's conversion as a fragment of the checkout write (order.store.ts): the SQL that writes
 * `cart` stays in the cart module. `cartId` is an SQL expression naming the cart.
 */
export const convertCartFrom = (cartId: string): string =>
  `update cart set status = 'CONVERTED', updated_at = now() where id = ${cartId}`;
