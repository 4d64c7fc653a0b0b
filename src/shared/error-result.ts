import { Field, InterfaceType, ObjectType, registerEnumType } from 'type-graphql';

/** Codes of expected business failures, returned as data (`ErrorResult`), never thrown. */
export enum ErrorCode {
  INVALID_CREDENTIALS = 'INVALID_CREDENTIALS',
  EMAIL_TAKEN = 'EMAIL_TAKEN',
  OUT_OF_STOCK = 'OUT_OF_STOCK',
  VARIANT_UNAVAILABLE = 'VARIANT_UNAVAILABLE',
  CART_EMPTY = 'CART_EMPTY',
  COUPON_INVALID = 'COUPON_INVALID',
  COUPON_EXHAUSTED = 'COUPON_EXHAUSTED',
  POINTS_INSUFFICIENT = 'POINTS_INSUFFICIENT',
  IDEMPOTENCY_KEY_REUSED = 'IDEMPOTENCY_KEY_REUSED',
  ORDER_STATE_INVALID = 'ORDER_STATE_INVALID',
  PAYMENT_WINDOW_EXPIRED = 'PAYMENT_WINDOW_EXPIRED',
  PAYMENT_DECLINED = 'PAYMENT_DECLINED',
  INSUFFICIENT_FUNDS = 'INSUFFICIENT_FUNDS',
  VERSION_CONFLICT = 'VERSION_CONFLICT',
  AFTER_SALE_NOT_ALLOWED = 'AFTER_SALE_NOT_ALLOWED',
  REFUND_EXCEEDS_PAID = 'REFUND_EXCEEDS_PAID',
  QUANTITY_LIMIT_EXCEEDED = 'QUANTITY_LIMIT_EXCEEDED',
  PAYMENT_PROVIDER_UNAVAILABLE = 'PAYMENT_PROVIDER_UNAVAILABLE',
  // operations (issue 13): a feature turned off by a runtime switch
  SERVICE_DEGRADED = 'SERVICE_DEGRADED',
  /** A webhook URL that is malformed, or (in production) not https or not public. */
  WEBHOOK_URL_INVALID = 'WEBHOOK_URL_INVALID',
  /** A document to register does not parse or validate, or its id is not the hash of its text. */
  PERSISTED_DOCUMENT_INVALID = 'PERSISTED_DOCUMENT_INVALID',
  // operations (issue 13): the refund is not (or no longer) waiting for that action
  REFUND_STATE_INVALID = 'REFUND_STATE_INVALID',
  /** The tracking number is already on another active shipment or return with this carrier. */
  TRACKING_NUMBER_IN_USE = 'TRACKING_NUMBER_IN_USE',
  /** Hot and cold orders (issue 14): the order is archived (finished long ago) and takes no more changes. */
  ORDER_ARCHIVED = 'ORDER_ARCHIVED',
  // security (issue 12): docs/security.md
  /** A new password shorter than PASSWORD_MIN_LENGTH, on the list of breached passwords, or the email itself. */
  PASSWORD_TOO_WEAK = 'PASSWORD_TOO_WEAK',
  /** The customer's unpaid checkouts are at CHECKOUT_MAX_UNPAID_PER_CUSTOMER or would hold more than CHECKOUT_MAX_HELD_UNITS_PER_CUSTOMER units. */
  CHECKOUT_LIMIT_REACHED = 'CHECKOUT_LIMIT_REACHED',
  // flash sales (h7)
  FLASH_SALE_NOT_ACTIVE = 'FLASH_SALE_NOT_ACTIVE',
  FLASH_SALE_LIMIT_REACHED = 'FLASH_SALE_LIMIT_REACHED',
  // sign-up verification (issue 12, g-signup): docs/accounts.md
  /** signUpConfirm: the code is unknown, used already, or replaced by a newer sign-up of the address. */
  SIGNUP_TOKEN_INVALID = 'SIGNUP_TOKEN_INVALID',
  /** signUpConfirm: the code is older than SIGNUP_TOKEN_TTL_HOURS. */
  SIGNUP_TOKEN_EXPIRED = 'SIGNUP_TOKEN_EXPIRED',
}
registerEnumType(ErrorCode, { name: 'ErrorCode', description: 'Why an expected business failure happened.' });

@InterfaceType({ description: 'An expected business failure: nothing was changed.' })
export abstract class ErrorResult {
  @Field(() => ErrorCode)
  errorCode!: ErrorCode;

  @Field(() => String)
  message!: string;
}

/**
 * What a service answers: its value, or an expected failure (returned as data, never thrown).
 * `E` narrows the failures to the union members the mutation's GraphQL result declares.
 */
export type Result<T, E extends ErrorResult = ErrorResult> = T | E;

/** The one guard for "is this an expected failure?" (UserError, OrderStateError, OutOfStockError, ...). */
export const isErrorResult = (value: unknown): value is ErrorResult => value instanceof ErrorResult;

@ObjectType({ implements: ErrorResult, description: 'Any expected failure without extra data.' })
export class UserError extends ErrorResult {
  @Field(() => String, { nullable: true, description: 'The input field at fault, when there is one.' })
  field?: string | null;

  static of(errorCode: ErrorCode, message: string, field?: string): UserError {
    return Object.assign(new UserError(), { errorCode, message, field: field ?? null });
  }
}
