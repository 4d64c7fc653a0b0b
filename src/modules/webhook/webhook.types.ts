import { createUnionType, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ArrayMaxSize, ArrayMinSize, MaxLength } from 'class-validator';
import { GraphQLDateTime } from 'graphql-scalars';
import { UserError } from '../../shared/error-result';
import { PageInfo } from '../../shared/types';
import { messageIdOf } from './webhook.payload';
import type { DeliveryRow, DeliveryStatus, EndpointRow } from './webhook.store';
import { WebhookTopic } from './webhook.topics';
import { MAX_URL_LENGTH } from './webhook.url';

export enum WebhookDeliveryStatus {
  PENDING = 'PENDING',
  DELIVERED = 'DELIVERED',
  RETRYING = 'RETRYING',
  DEAD = 'DEAD',
}
registerEnumType(WebhookDeliveryStatus, {
  name: 'WebhookDeliveryStatus',
  description: 'Where a delivery stands.',
  valuesConfig: {
    PENDING: { description: 'Not attempted yet (or redelivery asked for).' },
    DELIVERED: { description: 'The receiver answered 2xx.' },
    RETRYING: { description: 'An attempt failed; another follows at nextAttemptAt.' },
    DEAD: { description: 'WEBHOOK_MAX_ATTEMPTS attempts failed; webhookRedeliver sends it again.' },
  },
});

@ObjectType('WebhookDelivery', { description: 'One order event sent to one endpoint, with its attempts.' })
export class WebhookDeliveryType {
  @Field(() => ID) id!: string;
  @Field(() => WebhookTopic) topic!: WebhookTopic;
  @Field(() => String, { description: 'The webhook-id header: the same across retries of one event.' })
  messageId!: string;
  @Field(() => WebhookDeliveryStatus) status!: WebhookDeliveryStatus;
  @Field(() => Int, { description: 'Attempts that got an outcome (an answer, an error or a timeout).' })
  attempts!: number;
  @Field(() => Int, { nullable: true, description: "The last answer's HTTP status." })
  lastStatusCode!: number | null;
  @Field(() => String, { nullable: true, description: 'Why the last attempt failed.' })
  lastError!: string | null;
  @Field(() => GraphQLDateTime, { nullable: true, description: 'When it is (re)tried; null when final.' })
  nextAttemptAt!: Date | null;
  @Field(() => GraphQLDateTime) createdAt!: Date;
}

export function toDelivery(r: DeliveryRow): WebhookDeliveryType {
  const open = r.status === 'PENDING' || r.status === 'RETRYING';
  return Object.assign(new WebhookDeliveryType(), {
    id: String(r.id),
    topic: r.topic,
    messageId: messageIdOf(String(r.event_id), String(r.endpoint_id)),
    status: r.status as DeliveryStatus as WebhookDeliveryStatus,
    attempts: r.attempts,
    lastStatusCode: r.last_status_code,
    lastError: r.last_error,
    nextAttemptAt: open ? r.next_attempt_at : null,
    createdAt: r.created_at,
  });
}

@ObjectType('WebhookDeliveryEdge')
export class WebhookDeliveryEdge {
  @Field(() => String) cursor!: string;
  @Field(() => WebhookDeliveryType) node!: WebhookDeliveryType;
}

@ObjectType('WebhookDeliveryConnection', { description: 'Deliveries, newest first.' })
export class WebhookDeliveryConnection {
  @Field(() => [WebhookDeliveryEdge]) edges!: WebhookDeliveryEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType('WebhookEndpoint', { description: 'A URL that receives signed order events of one shop.' })
export class WebhookEndpointType {
  @Field(() => ID) id!: string;
  @Field(() => String) url!: string;
  @Field(() => [WebhookTopic]) topics!: WebhookTopic[];
  @Field(() => GraphQLDateTime) createdAt!: Date;
  merchantId!: string;
}

export const toEndpoint = (r: EndpointRow): WebhookEndpointType =>
  Object.assign(new WebhookEndpointType(), {
    id: String(r.id),
    url: r.url,
    topics: r.topics,
    createdAt: r.created_at,
    merchantId: String(r.merchant_id),
  });

@ObjectType('WebhookEndpointCreated')
export class WebhookEndpointCreated {
  @Field(() => WebhookEndpointType) endpoint!: WebhookEndpointType;
  @Field(() => String, { description: 'whsec_<base64>; shown once.' }) secret!: string;
}

@InputType()
export class WebhookEndpointCreateInput {
  @Field(() => String, {
    description: 'Where to POST. In production: https, and the host must resolve to public addresses only.',
  })
  @MaxLength(4 * MAX_URL_LENGTH) // a bound on input; longer than MAX_URL_LENGTH is WEBHOOK_URL_INVALID
  url!: string;
  @Field(() => [WebhookTopic])
  @ArrayMinSize(1)
  @ArrayMaxSize(10)
  topics!: WebhookTopic[];
  @Field(() => ID, { nullable: true, description: 'ADMIN only: the shop; others register for their own.' })
  merchantId?: string | null;
}

export const WebhookEndpointResult = createUnionType({
  name: 'WebhookEndpointResult',
  types: () => [WebhookEndpointCreated, UserError] as const,
});
