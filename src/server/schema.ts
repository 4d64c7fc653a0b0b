import 'reflect-metadata';
import { GraphQLSchema, printSchema, lexicographicSortSchema } from 'graphql';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import { buildSchemaSync, type PubSub } from 'type-graphql';
import {
  CategoryResolver,
  MerchantResolver,
  ProductConnectionResolver,
  ProductResolver,
} from '../modules/catalog/catalog.resolver';
import { VariantResolver } from '../modules/catalog/variant.resolver';
import { IdentityResolver } from '../modules/identity/identity.resolver';
import { CartLineResolver, CartResolver } from '../modules/cart/cart.resolver';
import { CheckoutResolver } from '../modules/checkout/checkout.resolver';
import { CheckoutQueryResolver, OrderLineResolver, OrderResolver } from '../modules/order/order.resolver';
import { PricingResolver } from '../modules/pricing/pricing.resolver';
import {
  AccountResolver,
  CheckoutPaymentResolver,
  OrderPaymentResolver,
  PaymentResolver,
  RefundResolver,
  ViewerAccountResolver,
} from '../modules/payment/payment.resolver';
import { OrderEventEdge } from '../modules/order/order.types';
import {
  FulfillmentResolver,
  OrderEventShipmentResolver,
  OrderShipmentsResolver,
  ShipmentEventsResolver,
} from '../modules/fulfillment/fulfillment.resolver';
import { OrderEventsResolver } from '../modules/events/events.resolver';
import { Customer } from '../modules/identity/identity.types';
import {
  AfterSaleResolver,
  OrderAfterSaleResolver,
  OrderEventAfterSaleResolver,
} from '../modules/aftersale/aftersale.resolver';
import { WebhookResolver } from '../modules/webhook/webhook.resolver';
import { PartnerResolver } from '../modules/partner/partner.resolver';
import { ErrorResult, UserError } from '../shared/error-result';
import { SwitchResolver } from '../modules/switches/switches.resolver';
import { SalesResolver } from '../modules/sales/sales.resolver';
import { OperationsResolver } from '../modules/ops/ops.resolver';
import { FlashSaleEntryResolver, FlashSaleResolver } from '../modules/flashsale/flashsale.resolver';
import { LoyaltyAdminResolver, LoyaltyViewerResolver } from '../modules/loyalty/loyalty.resolver';

export const resolvers = [
  OrderEventsResolver,
  IdentityResolver,
  CartResolver,
  CartLineResolver,
  PricingResolver,
  CheckoutResolver,
  CheckoutQueryResolver,
  OrderResolver,
  OrderLineResolver,
  PaymentResolver,
  RefundResolver,
  ViewerAccountResolver,
  AccountResolver,
  CheckoutPaymentResolver,
  OrderPaymentResolver,
  ProductResolver,
  ProductConnectionResolver,
  CategoryResolver,
  MerchantResolver,
  VariantResolver,
  FulfillmentResolver,
  OrderShipmentsResolver,
  ShipmentEventsResolver,
  OrderEventShipmentResolver,
  AfterSaleResolver,
  OrderAfterSaleResolver,
  OrderEventAfterSaleResolver,
  SwitchResolver,
  WebhookResolver,
  PartnerResolver,
  SalesResolver,
  OperationsResolver,
  FlashSaleResolver,
  FlashSaleEntryResolver,
  LoyaltyViewerResolver,
  LoyaltyAdminResolver,
] as const;

let cached: GraphQLSchema | undefined;

const noTopics: PubSub = {
  publish: () => {
    throw new Error('type-graphql topics are not used');
  },
  subscribe: () => {
    throw new Error('type-graphql topics are not used');
  },
};

/** The executable schema (built once per process). */
export function buildAppSchema(): GraphQLSchema {
  return (cached ??= buildSchemaSync({
    resolvers,
    // Customer is how merchants see buyers on orders; listed so clients can rely on it already.
    orphanedTypes: [ErrorResult, UserError, Customer, OrderEventEdge],
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
    // Subscriptions stream from the outbox (modules/events), not from type-graphql topics.
    pubSub: noTopics,
    validate: { forbidUnknownValues: false },
    emitSchemaFile: false,
  }));
}

/** The schema text committed as schema.graphql. */
export function schemaText(): string {
  void JSONResolver;
  return printSchema(lexicographicSortSchema(buildAppSchema())) + '\n';
}
