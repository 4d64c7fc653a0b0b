import { ArrayMaxSize, Length } from 'class-validator';
import { GraphQLDateTime } from 'graphql-scalars';
import { createUnionType, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { UserError } from '../../shared/error-result';
import { PartnerScope } from '../../shared/partner-scope';
import type { ApiKeyRow, PartnerRow, PersistedDocumentRow } from './partner.store';

registerEnumType(PartnerScope, {
  name: 'PartnerScope',
  description: 'What a partner may do for its merchant.',
  valuesConfig: {
    CATALOG_READ: { description: 'Catalog queries.' },
    ORDERS_READ: { description: "order, orders and merchantOrderEvents of the partner's merchant." },
    FULFILLMENT_WRITE: { description: "orderShip and shipmentTrackingUpdate on the merchant's orders." },
    WEBHOOKS: { description: 'The webhook endpoints of its merchant.' },
  },
});

@ObjectType('ApiKey', { description: "A partner's API key; the secret itself is never shown again." })
export class ApiKeyType {
  @Field(() => ID) id!: string;
  @Field(() => String, { description: 'The first characters of the secret, for recognising it.' })
  prefix!: string;
  @Field(() => GraphQLDateTime) createdAt!: Date;
  @Field(() => GraphQLDateTime, {
    nullable: true,
    description: 'When the key was last used (refreshed at most once a minute).',
  })
  lastUsedAt!: Date | null;
  @Field(() => GraphQLDateTime, { nullable: true }) revokedAt!: Date | null;
}

export const toApiKey = (r: ApiKeyRow): ApiKeyType =>
  Object.assign(new ApiKeyType(), {
    id: String(r.id),
    prefix: r.prefix,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  });

@ObjectType('ApiKeySecret', { description: 'A new API key and its secret.' })
export class ApiKeySecret {
  @Field(() => ApiKeyType) apiKey!: ApiKeyType;
  @Field(() => String, {
    description: 'Shown once; only a hash is stored. Send it as `Authorization: Bearer <secret>`.',
  })
  secret!: string;
}

@ObjectType('PersistedDocument', { description: 'A GraphQL document a partner registered and may run.' })
export class PersistedDocumentType {
  @Field(() => String, { description: 'sha256:<hex>' }) id!: string;
  @Field(() => String, { nullable: true }) operationName!: string | null;
  @Field(() => GraphQLDateTime) createdAt!: Date;
}

export const toDocument = (r: PersistedDocumentRow): PersistedDocumentType =>
  Object.assign(new PersistedDocumentType(), {
    id: r.id,
    operationName: r.operation_name,
    createdAt: r.created_at,
  });

@ObjectType('Partner', {
  description: 'A machine client (ERP, warehouse, marketplace) acting for one merchant within its scopes.',
})
export class PartnerType {
  @Field(() => ID) id!: string;
  @Field(() => String) name!: string;
  @Field(() => [PartnerScope]) scopes!: PartnerScope[];
  @Field(() => GraphQLDateTime) createdAt!: Date;
  merchantId!: string;
}

export const toPartner = (r: PartnerRow): PartnerType =>
  Object.assign(new PartnerType(), {
    id: String(r.id),
    name: r.name,
    scopes: r.scopes,
    createdAt: r.created_at,
    merchantId: String(r.merchant_id),
  });

@InputType()
export class PartnerCreateInput {
  @Field(() => String) @Length(1, 200) name!: string;
  @Field(() => ID, {
    nullable: true,
    description: 'ADMIN names the merchant; a MERCHANT creates partners of its own shop only.',
  })
  merchantId?: string | null;
  @Field(() => [PartnerScope]) @ArrayMaxSize(10) scopes!: PartnerScope[];
}

@InputType()
export class PersistedDocumentInput {
  @Field(() => String, { description: 'sha256:<hex of body>' }) id!: string;
  @Field(() => String) body!: string;
}

@ObjectType('PersistedDocumentsRegistered', { description: 'How many documents were new, how many known.' })
export class PersistedDocumentsRegistered {
  @Field(() => Int) registered!: number;
  @Field(() => Int) unchanged!: number;
}

export const PersistedDocumentsResult = createUnionType({
  name: 'PersistedDocumentsResult',
  description:
    'A document whose id is not the hash of its body, or that does not validate, is PERSISTED_DOCUMENT_INVALID naming it (field = its id); nothing is registered then.',
  types: () => [PersistedDocumentsRegistered, UserError] as const,
});
