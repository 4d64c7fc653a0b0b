import { graphql } from './gql';

/**
 * Every GraphQL document the storefront runs. graphql-codegen turns them into typed documents and
 * into the persisted-documents manifest (src/gql/persisted-documents.json); the server runs these
 * and nothing else when it enforces that manifest.
 */

/** Search with facets: public catalog, so served by GET with Cache-Control: public to anonymous shoppers. */
export const SearchProducts = graphql(`
  query SearchProducts($query: String, $categoryId: ID, $first: Int!) {
    products(filter: { query: $query, categoryId: $categoryId }, first: $first) {
      totalCount
      facets {
        name
        values {
          value
          label
          count
        }
      }
      edges {
        node {
          id
          slug
          title
          priceRange {
            min {
              amount
              currency
            }
          }
          media {
            url
            alt
            width
            height
          }
        }
      }
    }
  }
`);

export const ProductBySlug = graphql(`
  query ProductBySlug($slug: String!) {
    product(slug: $slug) {
      id
      slug
      title
      description
      seo {
        title
        description
      }
      media {
        url
        alt
        width
        height
      }
      category {
        id
        name
      }
      variants {
        id
        title
        availability
        price {
          amount
          currency
        }
      }
    }
  }
`);

export const CartById = graphql(`
  query CartById($id: ID!) {
    cart(id: $id) {
      id
      itemCount
      total {
        amount
        currency
      }
      lines {
        id
        quantity
        lineTotal {
          amount
          currency
        }
        variant {
          id
          title
          product {
            title
            slug
          }
        }
      }
    }
  }
`);

export const CartCreate = graphql(`
  mutation CartCreate($lines: [CartLineInput!]) {
    cartCreate(lines: $lines) {
      ... on Cart {
        id
        itemCount
      }
      ... on ErrorResult {
        errorCode
        message
      }
    }
  }
`);

export const CartLinesAdd = graphql(`
  mutation CartLinesAdd($cartId: ID!, $lines: [CartLineInput!]!) {
    cartLinesAdd(cartId: $cartId, lines: $lines) {
      ... on Cart {
        id
        itemCount
      }
      ... on ErrorResult {
        errorCode
        message
      }
    }
  }
`);

/** Signing in with the anonymous cart's id merges that cart into the customer's (AuthPayload.cart). */
export const SignIn = graphql(`
  mutation SignIn($email: String!, $password: String!, $cartId: ID) {
    signIn(email: $email, password: $password, cartId: $cartId) {
      ... on AuthPayload {
        token
        viewer {
          id
          name
        }
        cart {
          id
          itemCount
        }
      }
      ... on ErrorResult {
        errorCode
        message
      }
    }
  }
`);

export const CheckoutCreate = graphql(`
  mutation CheckoutCreate($input: CheckoutInput!) {
    checkoutCreate(input: $input) {
      ... on Checkout {
        id
        total {
          amount
          currency
        }
        orders {
          id
        }
      }
      ... on ErrorResult {
        errorCode
        message
      }
    }
  }
`);

/** A card payment on the provider's hosted page; the provider sends the shopper back to returnUrl. */
export const PaymentStart = graphql(`
  mutation PaymentStart($checkoutId: ID!, $idempotencyKey: String!, $returnUrl: String!) {
    paymentStart(
      checkoutId: $checkoutId
      method: CARD
      idempotencyKey: $idempotencyKey
      returnUrl: $returnUrl
    ) {
      ... on Payment {
        id
        status
        redirectUrl
      }
      ... on ErrorResult {
        errorCode
        message
      }
    }
  }
`);

export const OrderById = graphql(`
  query OrderById($id: ID!) {
    order(id: $id) {
      id
      status
      total {
        amount
        currency
      }
      lines {
        id
        quantity
        title
      }
      history {
        id
      }
    }
  }
`);

/** Live order tracking over graphql-ws: replays events after `after`, then streams new ones. */
export const OrderEvents = graphql(`
  subscription OrderEvents($orderId: ID!, $after: ID) {
    orderEvents(orderId: $orderId, after: $after) {
      id
      type
      status
      occurredAt
    }
  }
`);
