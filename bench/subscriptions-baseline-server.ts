import { WebSocketServer, type WebSocket } from 'ws';

/**
 * The subscriptions benchmark's baseline: a bare `ws` server with no GraphQL, no database and no
 * pub/sub. Subscribers connect with `?order=<id>`; the benchmark's producer connects with
 * `?control=1` and sends `{ orderId, event }`, which goes straight to the socket that owns the
 * order as the same graphql-ws `next` message this server's subscriptions send.
 * Control messages `{ count: true }` are answered with the number of subscribers.
 */
const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: Number(process.env.PORT ?? 0),
  backlog: 4096,
  perMessageDeflate: false,
});
const owners = new Map<string, WebSocket>();

wss.on('connection', (socket, req) => {
  const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
  if (params.get('control')) {
    socket.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.count) {
        socket.send(JSON.stringify({ count: owners.size }));
        return;
      }
      owners
        .get(m.orderId)
        ?.send(JSON.stringify({ id: '1', type: 'next', payload: { data: { orderEvents: m.event } } }));
    });
    return;
  }
  const order = params.get('order');
  if (!order) {
    socket.close(4400, 'order required');
    return;
  }
  owners.set(order, socket);
  socket.on('close', () => {
    if (owners.get(order) === socket) owners.delete(order);
  });
});

wss.on('listening', () => console.log(`listening ${(wss.address() as { port: number }).port}`));
process.on('SIGTERM', () => wss.close(() => process.exit(0)));
// Never outlive the benchmark that started this server, however it ended.
const parent = process.ppid;
setInterval(() => process.ppid !== parent && process.exit(0), 1000).unref();
