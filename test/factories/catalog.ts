import { randomBytes } from 'node:crypto';
import { ADMIN } from '../support/app';
import type { Gql } from '../support/client';

/** Data builders that go through the public API, as a merchant console would. */

const uid = () => randomBytes(4).toString('hex');

export async function signIn(gql: Gql, email: string, password: string): Promise<string> {
  const r = await gql(
    `mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { ... on AuthPayload { token } ... on ErrorResult { errorCode } } }`,
    { e: email, p: password },
  );
  const token = r.data?.signIn?.token;
  if (!token) throw new Error(`sign-in failed: ${JSON.stringify(r)}`);
  return token;
}

export const adminToken = (gql: Gql) => signIn(gql, ADMIN.email, ADMIN.password);

export async function signUpCustomer(
  gql: Gql,
  name = 'Shopper',
): Promise<{ token: string; id: string; email: string }> {
  const email = `customer-${uid()}@test.local`;
  const r = await gql(
    `mutation($i: SignUpInput!) { signUp(input: $i) { ... on AuthPayload { token viewer { id } } ... on ErrorResult { errorCode } } }`,
    { i: { email, password: 'password-123', name } },
  );
  if (!r.data?.signUp?.token) throw new Error(`sign-up failed: ${JSON.stringify(r)}`);
  return { token: r.data.signUp.token, id: r.data.signUp.viewer.id, email };
}

export async function createMerchant(
  gql: Gql,
  admin: string,
  name = `Shop ${uid()}`,
): Promise<{ id: string; token: string }> {
  const email = `owner-${uid()}@test.local`;
  const r = await gql(
    `mutation($i: MerchantCreateInput!) { merchantCreate(input: $i) { id name } }`,
    { i: { name, ownerEmail: email, ownerPassword: 'owner-password', ownerName: `${name} owner` } },
    admin,
  );
  if (!r.data?.merchantCreate) throw new Error(`merchantCreate failed: ${JSON.stringify(r)}`);
  return { id: r.data.merchantCreate.id, token: await signIn(gql, email, 'owner-password') };
}

export async function createCategory(
  gql: Gql,
  admin: string,
  name: string,
  parentId?: string,
): Promise<string> {
  const r = await gql(
    `mutation($i: CategoryCreateInput!) { categoryCreate(input: $i) { id } }`,
    { i: { name, slug: `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${uid()}`, parentId } },
    admin,
  );
  if (!r.data?.categoryCreate) throw new Error(`categoryCreate failed: ${JSON.stringify(r)}`);
  return r.data.categoryCreate.id;
}

export interface VariantSpec {
  sku?: string;
  title?: string;
  price?: string;
  onHand?: number;
  attributes?: { name: string; value: string }[];
}

export interface ProductSpec {
  title?: string;
  description?: string;
  categoryId?: string;
  collections?: string[];
  stockPolicy?: string;
  variants?: VariantSpec[];
}

export async function createProduct(
  gql: Gql,
  merchantToken: string,
  spec: ProductSpec = {},
): Promise<{ id: string; variantIds: string[] }> {
  const input = {
    title: spec.title ?? `Product ${uid()}`,
    description: spec.description ?? 'A product made for tests.',
    categoryId: spec.categoryId,
    collections: spec.collections,
    stockPolicy: spec.stockPolicy,
    variants: (spec.variants ?? [{}]).map((v) => ({
      sku: v.sku ?? `SKU-${uid()}`,
      title: v.title ?? 'Default',
      price: v.price ?? '10.00',
      onHand: v.onHand ?? 10,
      attributes: v.attributes ?? [],
    })),
  };
  const r = await gql(
    `mutation($i: ProductCreateInput!) { productCreate(input: $i) { id variants { id } } }`,
    { i: input },
    merchantToken,
  );
  if (!r.data?.productCreate) throw new Error(`productCreate failed: ${JSON.stringify(r)}`);
  return {
    id: r.data.productCreate.id,
    variantIds: r.data.productCreate.variants.map((v: { id: string }) => v.id),
  };
}
