/** What a signed-in user may be; a user holds one or more (GraphQL enum `Role`, registered by identity). */
export enum Role {
  CUSTOMER = 'CUSTOMER',
  MERCHANT = 'MERCHANT',
  ADMIN = 'ADMIN',
}
