import { timingSafeEqual, createHash } from 'node:crypto';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { Metrics } from './metrics';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Whether `Authorization: Bearer <token>` carries the token (compared in constant time). */
function bearerMatches(header: string | undefined, token: string): boolean {
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header.trim()) : null;
  return m !== null && timingSafeEqual(digest(m[1]), digest(token));
}

/** GET /metrics (Prometheus text); with a token, only for `Authorization: Bearer <token>`. */
export function metricsHandler(metrics: Metrics, token: string | undefined) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (token !== undefined && !bearerMatches(request.headers.authorization, token)) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'Unauthorized' });
    }
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  };
}

/**
 * /metrics on a port of its own (METRICS_PORT), for deployments that keep scrapes on an internal
 * network: the API port then has no /metrics at all.
 */
export async function startMetricsServer(metrics: Metrics, port: number, token: string | undefined) {
  const app = Fastify({ logger: false });
  app.get('/metrics', metricsHandler(metrics, token));
  await app.listen({ port, host: '::' }).catch(async (e: NodeJS.ErrnoException) => {
    if (!['EAFNOSUPPORT', 'EADDRNOTAVAIL'].includes(e.code ?? '')) throw e;
    await app.listen({ port, host: '0.0.0.0' });
  });
  return {
    port: (app.server.address() as { port: number }).port,
    close: () => app.close(),
  };
}
