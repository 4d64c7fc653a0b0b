import type { Gql } from '../support/client';

/** Paying through the public API and the sandbox provider's hosted page, as a shopper would. */

export const PAYMENT_START = `mutation($c: ID!, $m: PaymentMethod!, $k: String!) { paymentStart(checkoutId: $c, method: $m, idempotencyKey: $k) {
  __typename ... on Payment { id status method amount { amount } refunded { amount } redirectUrl }
  ... on InsufficientFundsError { errorCode balance { amount } }
  ... on ErrorResult { errorCode message } } }`;

/** Completes the hosted payment page as a browser form would (`action=pay` or `decline`). */
export async function completeOnProviderPage(
  redirectUrl: string,
  action: 'pay' | 'decline' = 'pay',
): Promise<number> {
  const res = await fetch(redirectUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `action=${action}`,
    redirect: 'manual',
  });
  return res.status;
}

/** Polls `check` until it returns a truthy value (or fails after `ms`). */
export async function eventually<T>(check: () => Promise<T>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const ORDER_STATUS = `query($id: ID!) { order(id: $id) { status payment { status } } }`;

export async function orderStatus(gql: Gql, token: string, id: string): Promise<string> {
  return (await gql(ORDER_STATUS, { id }, token)).data.order.status;
}
