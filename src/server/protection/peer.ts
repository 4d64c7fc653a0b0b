import type { IncomingMessage } from 'node:http';

/**
 * The address rate limits and the sign-in guard count against: the TCP peer. Forwarded headers are
 * not trusted (any client can write them); behind a proxy, the proxy should rate-limit by client.
 */
export const peerAddress = (req: IncomingMessage): string => req.socket.remoteAddress ?? 'unknown';
