import { buildSchema } from 'graphql';
import { jwtVerify } from 'jose';
import { Pool } from 'pg';
import { serveBareGraphQL } from './bare-graphql';
import { rawCart, rawCheckout, rawPay } from './money-path-steps';

/**
 * The money path's bare baseline: node:http + graphql-js + pg serving the three mutations of the
 * flow (cartCreate, checkoutCreate, paymentStart by balance) with the service's statements, one
 * transaction per mutation (bench/money-path-steps.ts), the buyer taken from the same HS256 bearer
 * token the server issues (JWT_SECRET). None of the framework: no rate limits, no cost analysis,
 * no token revocation check, no idempotent replay, no events relay, no jobs worker.
 */
const pool = new Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.DB_POOL_SIZE ?? 10),
});
const key = new TextEncoder().encode(process.env.JWT_SECRET);

const schema = buildSchema(`
  interface ErrorResult { errorCode: String! message: String! }
  type UserError implements ErrorResult { errorCode: String! message: String! }
  type Cart { id: ID! }
  type Checkout { id: ID! }
  type Payment { status: String! }
  union CartResult = Cart | UserError
  union CheckoutResult = Checkout | UserError
  union PaymentResult = Payment | UserError
  input CartLineInput { variantId: ID! quantity: Int! }
  input AddressInput { name: String! line1: String! line2: String city: String! postalCode: String! country: String! phone: String }
  input CheckoutInput { cartId: ID! idempotencyKey: String! shippingAddress: AddressInput! }
  enum PaymentMethod { BALANCE CARD }
  type Query { ok: Boolean }
  type Mutation {
    cartCreate(lines: [CartLineInput!]): CartResult!
    checkoutCreate(input: CheckoutInput!): CheckoutResult!
    paymentStart(checkoutId: ID!, method: PaymentMethod!, idempotencyKey: String!): PaymentResult!
  }
`);

interface Ctx {
  buyer: string;
  statements: number;
}

const root = {
  async cartCreate(args: { lines: { variantId: string }[] }, ctx: Ctx) {
    ctx.statements += 4;
    return { __typename: 'Cart', id: await rawCart(pool, ctx.buyer, args.lines[0].variantId) };
  },
  async checkoutCreate(args: { input: { cartId: string; idempotencyKey: string } }, ctx: Ctx) {
    ctx.statements += 6;
    return {
      __typename: 'Checkout',
      id: await rawCheckout(pool, ctx.buyer, args.input.cartId, args.input.idempotencyKey),
    };
  },
  async paymentStart(args: { checkoutId: string; idempotencyKey: string }, ctx: Ctx) {
    ctx.statements += 5;
    return {
      __typename: 'Payment',
      status: await rawPay(pool, ctx.buyer, args.checkoutId, args.idempotencyKey),
    };
  },
};

serveBareGraphQL<Ctx>(schema, root, async (req) => {
  const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  try {
    const buyer = token ? String((await jwtVerify(token, key, { algorithms: ['HS256'] })).payload.sub) : '';
    return { buyer, statements: 0 };
  } catch {
    return null;
  }
});
