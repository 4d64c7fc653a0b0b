import {
  GraphQLError,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { canManage, type Principal } from '../../shared/auth';
import { PartnerScope } from '../../shared/partner-scope';

/**
 * The root fields a partner may reach, and the scope each needs. Everything not listed is
 * FORBIDDEN to partners, so fields added later stay closed until someone opens them here.
 * The webhook fields are those of the contract (built in the webhooks module).
 */
export const PARTNER_ROOT_FIELDS: Record<
  'query' | 'mutation' | 'subscription',
  Record<string, PartnerScope>
> = {
  query: {
    products: PartnerScope.CATALOG_READ,
    product: PartnerScope.CATALOG_READ,
    categories: PartnerScope.CATALOG_READ,
    category: PartnerScope.CATALOG_READ,
    order: PartnerScope.ORDERS_READ,
    orders: PartnerScope.ORDERS_READ,
    webhookEndpoints: PartnerScope.WEBHOOKS,
  },
  mutation: {
    orderShip: PartnerScope.FULFILLMENT_WRITE,
    shipmentTrackingUpdate: PartnerScope.FULFILLMENT_WRITE,
    webhookEndpointCreate: PartnerScope.WEBHOOKS,
    webhookEndpointDelete: PartnerScope.WEBHOOKS,
    webhookRedeliver: PartnerScope.WEBHOOKS,
  },
  subscription: {
    merchantOrderEvents: PartnerScope.ORDERS_READ,
  },
};

/** The root field names an operation selects, through fragments (`__typename` needs no scope). */
export function rootFields(document: DocumentNode, operation: OperationDefinitionNode): string[] {
  const fragments = new Map(
    document.definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((d) => [d.name.value, d]),
  );
  const names = new Set<string>();
  const seen = new Set<string>();
  const visit = (set: SelectionSetNode) => {
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) {
        if (s.name.value !== '__typename') names.add(s.name.value);
      } else if (s.kind === Kind.INLINE_FRAGMENT) visit(s.selectionSet);
      else if (!seen.has(s.name.value)) {
        seen.add(s.name.value);
        const f = fragments.get(s.name.value);
        if (f) visit(f.selectionSet);
      }
    }
  };
  visit(operation.selectionSet);
  return [...names];
}

/**
 * Why a partner may not run this operation (a FORBIDDEN error, HTTP 403), or null when every root
 * field it selects is within the partner's scopes. Users' principals are not concerned.
 */
export function partnerOperationError(
  principal: Principal | null,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): GraphQLError | null {
  const partner = principal?.partner;
  if (!partner) return null;
  const allowed = PARTNER_ROOT_FIELDS[operation.operation];
  for (const field of rootFields(document, operation)) {
    const scope = Object.hasOwn(allowed, field) ? allowed[field] : undefined;
    if (!scope || !partner.scopes.includes(scope)) {
      return new GraphQLError(
        scope ? `${field} needs the partner scope ${scope}` : `${field} is not available to partners`,
        { extensions: { code: 'FORBIDDEN', http: { status: 403 } } },
      );
    }
  }
  return null;
}

/** Whether the principal holds a scope (a user's principal holds none). */
export const hasScope = (principal: Principal | null, scope: PartnerScope): boolean =>
  !!principal?.partner?.scopes.includes(scope);

/**
 * Who may manage the webhook endpoints of a merchant: admins, the merchant itself, and its
 * partners that hold WEBHOOKS. A partner never manages another merchant's endpoints.
 */
export function canManageWebhooks(principal: Principal | null, merchantId: string): boolean {
  if (!principal) return false;
  if (principal.partner)
    return principal.partner.merchantId === merchantId && hasScope(principal, PartnerScope.WEBHOOKS);
  return canManage(principal, merchantId);
}
