import type { EntityManager } from '@mikro-orm/postgresql';
import type { WebhookConfig } from '../../config';
import { inTransaction, Rollback } from '../../db/transaction';
import { authorize, type Principal } from '../../shared/auth';
import { ErrorCode, UserError, isErrorResult } from '../../shared/error-result';
import { badInput, notFound } from '../../shared/errors';
import { isId } from '../../shared/ids';
import { canManageWebhooks, webhookMerchant } from './webhook.access';
import { newSecret } from './webhook.signature';
import {
  findDelivery,
  findEndpoint,
  insertEndpoint,
  liveEndpoints,
  lockMerchant,
  markEndpointDeleted,
  redeliver,
  countLiveEndpoints,
  type DeliveryRow,
  type EndpointRow,
} from './webhook.store';
import { isTopic, type WebhookTopic } from './webhook.topics';
import { parseEndpointUrl, resolveTarget, systemResolve, UrlRefused, type Resolve } from './webhook.url';

/** A shop keeps at most this many endpoints: each event is sent to every one of them. */
export const MAX_ENDPOINTS_PER_SHOP = 20;

export interface EndpointCreated {
  endpoint: EndpointRow;
  /** whsec_<base64>; returned only here. */
  secret: string;
}

/**
 * Webhook endpoints and deliveries for the API: registration (URL rules, secret), listing,
 * deletion and redelivery. Sending is webhook.worker's, deriving deliveries webhook.dispatcher's.
 */
export class WebhookService {
  /** How host names are resolved (replaceable in tests, which have no public DNS to rely on). */
  resolve: Resolve = systemResolve;
  /** Set by the app: a delivery became due (redelivery), wake the worker. */
  onDue: () => void = () => undefined;

  constructor(private readonly config: WebhookConfig) {}

  /** The URL as stored, or why it may not be used (also after DNS resolution, in production). */
  private async checkUrl(raw: string): Promise<string | UserError> {
    try {
      const url = parseEndpointUrl(raw, this.config.publicUrlsOnly);
      if (this.config.publicUrlsOnly) await resolveTarget(url, true, this.resolve);
      return url.toString();
    } catch (err) {
      if (err instanceof UrlRefused) return UserError.of(ErrorCode.WEBHOOK_URL_INVALID, err.message, 'url');
      throw err;
    }
  }

  async create(
    em: EntityManager,
    principal: Principal | null,
    input: { url: string; topics: string[]; merchantId?: string | null },
  ): Promise<EndpointCreated | UserError> {
    const merchantId = webhookMerchant(principal, input.merchantId);
    const topics = [...new Set(input.topics)];
    if (topics.length === 0) throw badInput('Name at least one topic', 'topics');
    const unknown = topics.find((t) => !isTopic(t));
    if (unknown) throw badInput(`Unknown topic ${unknown.slice(0, 40)}`, 'topics');
    const url = await this.checkUrl(input.url);
    if (isErrorResult(url)) return url;
    const secret = newSecret();
    return inTransaction<EndpointCreated, UserError>(em, async (tx) => {
      if (!(await lockMerchant(tx, merchantId))) throw notFound('Merchant', merchantId);
      if ((await countLiveEndpoints(tx, merchantId)) >= MAX_ENDPOINTS_PER_SHOP)
        throw new Rollback(
          UserError.of(
            ErrorCode.QUANTITY_LIMIT_EXCEEDED,
            `A shop has at most ${MAX_ENDPOINTS_PER_SHOP} webhook endpoints; delete one first`,
          ),
        );
      const endpoint = await insertEndpoint(tx, {
        merchantId,
        url,
        topics: topics as WebhookTopic[],
        secret,
      });
      return { endpoint, secret };
    });
  }

  list(em: EntityManager, principal: Principal | null, merchantId?: string | null): Promise<EndpointRow[]> {
    return liveEndpoints(em, webhookMerchant(principal, merchantId));
  }

  /** True when this call deleted it, false when it was deleted already. Someone else's endpoint does not exist for the caller. */
  async delete(em: EntityManager, principal: Principal | null, id: string): Promise<boolean> {
    authorize(principal);
    const ep = isId(id) ? await findEndpoint(em, id) : undefined;
    if (!ep || !canManageWebhooks(principal, String(ep.merchant_id)))
      throw notFound('Webhook endpoint', id.slice(0, 40));
    return markEndpointDeleted(em, id);
  }

  /** Sends a delivery again (a DEAD one gets a fresh set of attempts); same webhook-id. */
  async redeliver(em: EntityManager, principal: Principal | null, deliveryId: string): Promise<DeliveryRow> {
    const d = isId(deliveryId) ? await findDelivery(em, deliveryId) : undefined;
    if (!d || !canManageWebhooks(principal, String(d.merchant_id)))
      throw notFound('Webhook delivery', deliveryId.slice(0, 40));
    if (d.endpoint_deleted) throw badInput('The endpoint of this delivery was deleted', 'deliveryId');
    const row = await redeliver(em, deliveryId, this.config.maxAttempts);
    this.onDue();
    return row;
  }
}
