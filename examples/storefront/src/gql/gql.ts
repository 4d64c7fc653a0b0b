/* eslint-disable */
import * as types from './graphql';
import { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  query SearchProducts($query: String, $categoryId: ID, $first: Int!) {\n    products(filter: { query: $query, categoryId: $categoryId }, first: $first) {\n      totalCount\n      facets {\n        name\n        values {\n          value\n          label\n          count\n        }\n      }\n      edges {\n        node {\n          id\n          slug\n          title\n          priceRange {\n            min {\n              amount\n              currency\n            }\n          }\n          media {\n            url\n            alt\n            width\n            height\n          }\n        }\n      }\n    }\n  }\n": typeof types.SearchProductsDocument,
    "\n  query ProductBySlug($slug: String!) {\n    product(slug: $slug) {\n      id\n      slug\n      title\n      description\n      seo {\n        title\n        description\n      }\n      media {\n        url\n        alt\n        width\n        height\n      }\n      category {\n        id\n        name\n      }\n      variants {\n        id\n        title\n        availability\n        price {\n          amount\n          currency\n        }\n      }\n    }\n  }\n": typeof types.ProductBySlugDocument,
    "\n  query CartById($id: ID!) {\n    cart(id: $id) {\n      id\n      itemCount\n      total {\n        amount\n        currency\n      }\n      lines {\n        id\n        quantity\n        lineTotal {\n          amount\n          currency\n        }\n        variant {\n          id\n          title\n          product {\n            title\n            slug\n          }\n        }\n      }\n    }\n  }\n": typeof types.CartByIdDocument,
    "\n  mutation CartCreate($lines: [CartLineInput!]) {\n    cartCreate(lines: $lines) {\n      ... on Cart {\n        id\n        itemCount\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n": typeof types.CartCreateDocument,
    "\n  mutation CartLinesAdd($cartId: ID!, $lines: [CartLineInput!]!) {\n    cartLinesAdd(cartId: $cartId, lines: $lines) {\n      ... on Cart {\n        id\n        itemCount\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n": typeof types.CartLinesAddDocument,
    "\n  mutation SignIn($email: String!, $password: String!, $cartId: ID) {\n    signIn(email: $email, password: $password, cartId: $cartId) {\n      ... on AuthPayload {\n        token\n        viewer {\n          id\n          name\n        }\n        cart {\n          id\n          itemCount\n        }\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n": typeof types.SignInDocument,
    "\n  mutation CheckoutCreate($input: CheckoutInput!) {\n    checkoutCreate(input: $input) {\n      ... on Checkout {\n        id\n        total {\n          amount\n          currency\n        }\n        orders {\n          id\n        }\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n": typeof types.CheckoutCreateDocument,
    "\n  mutation PaymentStart($checkoutId: ID!, $idempotencyKey: String!, $returnUrl: String!) {\n    paymentStart(\n      checkoutId: $checkoutId\n      method: CARD\n      idempotencyKey: $idempotencyKey\n      returnUrl: $returnUrl\n    ) {\n      ... on Payment {\n        id\n        status\n        redirectUrl\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n": typeof types.PaymentStartDocument,
    "\n  query OrderById($id: ID!) {\n    order(id: $id) {\n      id\n      status\n      total {\n        amount\n        currency\n      }\n      lines {\n        id\n        quantity\n        title\n      }\n      history {\n        id\n      }\n    }\n  }\n": typeof types.OrderByIdDocument,
    "\n  subscription OrderEvents($orderId: ID!, $after: ID) {\n    orderEvents(orderId: $orderId, after: $after) {\n      id\n      type\n      status\n      occurredAt\n    }\n  }\n": typeof types.OrderEventsDocument,
};
const documents: Documents = {
    "\n  query SearchProducts($query: String, $categoryId: ID, $first: Int!) {\n    products(filter: { query: $query, categoryId: $categoryId }, first: $first) {\n      totalCount\n      facets {\n        name\n        values {\n          value\n          label\n          count\n        }\n      }\n      edges {\n        node {\n          id\n          slug\n          title\n          priceRange {\n            min {\n              amount\n              currency\n            }\n          }\n          media {\n            url\n            alt\n            width\n            height\n          }\n        }\n      }\n    }\n  }\n": types.SearchProductsDocument,
    "\n  query ProductBySlug($slug: String!) {\n    product(slug: $slug) {\n      id\n      slug\n      title\n      description\n      seo {\n        title\n        description\n      }\n      media {\n        url\n        alt\n        width\n        height\n      }\n      category {\n        id\n        name\n      }\n      variants {\n        id\n        title\n        availability\n        price {\n          amount\n          currency\n        }\n      }\n    }\n  }\n": types.ProductBySlugDocument,
    "\n  query CartById($id: ID!) {\n    cart(id: $id) {\n      id\n      itemCount\n      total {\n        amount\n        currency\n      }\n      lines {\n        id\n        quantity\n        lineTotal {\n          amount\n          currency\n        }\n        variant {\n          id\n          title\n          product {\n            title\n            slug\n          }\n        }\n      }\n    }\n  }\n": types.CartByIdDocument,
    "\n  mutation CartCreate($lines: [CartLineInput!]) {\n    cartCreate(lines: $lines) {\n      ... on Cart {\n        id\n        itemCount\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n": types.CartCreateDocument,
    "\n  mutation CartLinesAdd($cartId: ID!, $lines: [CartLineInput!]!) {\n    cartLinesAdd(cartId: $cartId, lines: $lines) {\n      ... on Cart {\n        id\n        itemCount\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n": types.CartLinesAddDocument,
    "\n  mutation SignIn($email: String!, $password: String!, $cartId: ID) {\n    signIn(email: $email, password: $password, cartId: $cartId) {\n      ... on AuthPayload {\n        token\n        viewer {\n          id\n          name\n        }\n        cart {\n          id\n          itemCount\n        }\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n": types.SignInDocument,
    "\n  mutation CheckoutCreate($input: CheckoutInput!) {\n    checkoutCreate(input: $input) {\n      ... on Checkout {\n        id\n        total {\n          amount\n          currency\n        }\n        orders {\n          id\n        }\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n": types.CheckoutCreateDocument,
    "\n  mutation PaymentStart($checkoutId: ID!, $idempotencyKey: String!, $returnUrl: String!) {\n    paymentStart(\n      checkoutId: $checkoutId\n      method: CARD\n      idempotencyKey: $idempotencyKey\n      returnUrl: $returnUrl\n    ) {\n      ... on Payment {\n        id\n        status\n        redirectUrl\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n": types.PaymentStartDocument,
    "\n  query OrderById($id: ID!) {\n    order(id: $id) {\n      id\n      status\n      total {\n        amount\n        currency\n      }\n      lines {\n        id\n        quantity\n        title\n      }\n      history {\n        id\n      }\n    }\n  }\n": types.OrderByIdDocument,
    "\n  subscription OrderEvents($orderId: ID!, $after: ID) {\n    orderEvents(orderId: $orderId, after: $after) {\n      id\n      type\n      status\n      occurredAt\n    }\n  }\n": types.OrderEventsDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query SearchProducts($query: String, $categoryId: ID, $first: Int!) {\n    products(filter: { query: $query, categoryId: $categoryId }, first: $first) {\n      totalCount\n      facets {\n        name\n        values {\n          value\n          label\n          count\n        }\n      }\n      edges {\n        node {\n          id\n          slug\n          title\n          priceRange {\n            min {\n              amount\n              currency\n            }\n          }\n          media {\n            url\n            alt\n            width\n            height\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query SearchProducts($query: String, $categoryId: ID, $first: Int!) {\n    products(filter: { query: $query, categoryId: $categoryId }, first: $first) {\n      totalCount\n      facets {\n        name\n        values {\n          value\n          label\n          count\n        }\n      }\n      edges {\n        node {\n          id\n          slug\n          title\n          priceRange {\n            min {\n              amount\n              currency\n            }\n          }\n          media {\n            url\n            alt\n            width\n            height\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ProductBySlug($slug: String!) {\n    product(slug: $slug) {\n      id\n      slug\n      title\n      description\n      seo {\n        title\n        description\n      }\n      media {\n        url\n        alt\n        width\n        height\n      }\n      category {\n        id\n        name\n      }\n      variants {\n        id\n        title\n        availability\n        price {\n          amount\n          currency\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query ProductBySlug($slug: String!) {\n    product(slug: $slug) {\n      id\n      slug\n      title\n      description\n      seo {\n        title\n        description\n      }\n      media {\n        url\n        alt\n        width\n        height\n      }\n      category {\n        id\n        name\n      }\n      variants {\n        id\n        title\n        availability\n        price {\n          amount\n          currency\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query CartById($id: ID!) {\n    cart(id: $id) {\n      id\n      itemCount\n      total {\n        amount\n        currency\n      }\n      lines {\n        id\n        quantity\n        lineTotal {\n          amount\n          currency\n        }\n        variant {\n          id\n          title\n          product {\n            title\n            slug\n          }\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query CartById($id: ID!) {\n    cart(id: $id) {\n      id\n      itemCount\n      total {\n        amount\n        currency\n      }\n      lines {\n        id\n        quantity\n        lineTotal {\n          amount\n          currency\n        }\n        variant {\n          id\n          title\n          product {\n            title\n            slug\n          }\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CartCreate($lines: [CartLineInput!]) {\n    cartCreate(lines: $lines) {\n      ... on Cart {\n        id\n        itemCount\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CartCreate($lines: [CartLineInput!]) {\n    cartCreate(lines: $lines) {\n      ... on Cart {\n        id\n        itemCount\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CartLinesAdd($cartId: ID!, $lines: [CartLineInput!]!) {\n    cartLinesAdd(cartId: $cartId, lines: $lines) {\n      ... on Cart {\n        id\n        itemCount\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CartLinesAdd($cartId: ID!, $lines: [CartLineInput!]!) {\n    cartLinesAdd(cartId: $cartId, lines: $lines) {\n      ... on Cart {\n        id\n        itemCount\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SignIn($email: String!, $password: String!, $cartId: ID) {\n    signIn(email: $email, password: $password, cartId: $cartId) {\n      ... on AuthPayload {\n        token\n        viewer {\n          id\n          name\n        }\n        cart {\n          id\n          itemCount\n        }\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation SignIn($email: String!, $password: String!, $cartId: ID) {\n    signIn(email: $email, password: $password, cartId: $cartId) {\n      ... on AuthPayload {\n        token\n        viewer {\n          id\n          name\n        }\n        cart {\n          id\n          itemCount\n        }\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CheckoutCreate($input: CheckoutInput!) {\n    checkoutCreate(input: $input) {\n      ... on Checkout {\n        id\n        total {\n          amount\n          currency\n        }\n        orders {\n          id\n        }\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CheckoutCreate($input: CheckoutInput!) {\n    checkoutCreate(input: $input) {\n      ... on Checkout {\n        id\n        total {\n          amount\n          currency\n        }\n        orders {\n          id\n        }\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation PaymentStart($checkoutId: ID!, $idempotencyKey: String!, $returnUrl: String!) {\n    paymentStart(\n      checkoutId: $checkoutId\n      method: CARD\n      idempotencyKey: $idempotencyKey\n      returnUrl: $returnUrl\n    ) {\n      ... on Payment {\n        id\n        status\n        redirectUrl\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation PaymentStart($checkoutId: ID!, $idempotencyKey: String!, $returnUrl: String!) {\n    paymentStart(\n      checkoutId: $checkoutId\n      method: CARD\n      idempotencyKey: $idempotencyKey\n      returnUrl: $returnUrl\n    ) {\n      ... on Payment {\n        id\n        status\n        redirectUrl\n      }\n      ... on ErrorResult {\n        errorCode\n        message\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query OrderById($id: ID!) {\n    order(id: $id) {\n      id\n      status\n      total {\n        amount\n        currency\n      }\n      lines {\n        id\n        quantity\n        title\n      }\n      history {\n        id\n      }\n    }\n  }\n"): (typeof documents)["\n  query OrderById($id: ID!) {\n    order(id: $id) {\n      id\n      status\n      total {\n        amount\n        currency\n      }\n      lines {\n        id\n        quantity\n        title\n      }\n      history {\n        id\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription OrderEvents($orderId: ID!, $after: ID) {\n    orderEvents(orderId: $orderId, after: $after) {\n      id\n      type\n      status\n      occurredAt\n    }\n  }\n"): (typeof documents)["\n  subscription OrderEvents($orderId: ID!, $after: ID) {\n    orderEvents(orderId: $orderId, after: $after) {\n      id\n      type\n      status\n      occurredAt\n    }\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;