import { ErrorCode, UserError } from '../../shared/error-result';
import { keyReused as keyReusedFor } from '../../shared/idempotency';

/* The refusals of an entry, the same whether Redis or PostgreSQL decided it. */

export const notActive = () =>
  UserError.of(ErrorCode.FLASH_SALE_NOT_ACTIVE, 'This flash sale is not open for entries now', 'flashSaleId');

export const limitReached = (limit: number) =>
  UserError.of(
    ErrorCode.FLASH_SALE_LIMIT_REACHED,
    `At most ${limit} unit(s) per customer in this flash sale`,
    'quantity',
  );

/** The entry's id is derived from its key, so the entry (or Redis's line) is the key's record (docs/architecture.md). */
export const keyReused = () => keyReusedFor('a different entry');

export const unconfirmed = () =>
  UserError.of(
    ErrorCode.SERVICE_DEGRADED,
    'Your entry could not be confirmed yet; please retry with the same idempotency key',
    'idempotencyKey',
  );
