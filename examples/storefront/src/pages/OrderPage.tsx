import { useQuery, useSubscription } from '@apollo/client/react';
import { useState } from 'react';
import { OrderById, OrderEvents } from '../documents';
import { money } from '../money';

/**
 * Live order tracking. The order is read once; its status then follows the order's events over
 * graphql-ws, starting after the last event the read saw (nothing missed, nothing twice). The
 * provider sends the shopper here after paying (?payment=…&status=…); the page trusts the API's
 * status, not the query string.
 */
export function OrderPage({ id }: { id: string }) {
  const { data, loading, error } = useQuery(OrderById, { variables: { id }, fetchPolicy: 'network-only' });
  const order = data?.order;
  const after = order?.history.at(-1)?.id ?? null;
  const [live, setLive] = useState<{ status: string; events: number }>();
  useSubscription(OrderEvents, {
    variables: { orderId: id, after },
    skip: !order,
    onData: ({ data: e }) => {
      const event = e.data?.orderEvents;
      if (event) setLive((l) => ({ status: event.status, events: (l?.events ?? 0) + 1 }));
    },
  });
  if (loading && !data) return <p>Loading…</p>;
  if (error) return <p role="alert">{error.message}</p>;
  if (!order) return <p>No such order.</p>;
  return (
    <section>
      <h1>Order {order.id}</h1>
      <p>
        Status: <strong data-testid="order-status">{live?.status ?? order.status}</strong>
        {live && <span data-testid="live-events"> ({live.events} live updates)</span>}
      </p>
      <ul>
        {order.lines.map((l) => (
          <li key={l.id}>
            {l.quantity} × {l.title}
          </li>
        ))}
      </ul>
      <p>Total: {money(order.total)}</p>
    </section>
  );
}
