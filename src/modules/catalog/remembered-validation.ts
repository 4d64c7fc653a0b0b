import { validateOrReject } from 'class-validator';
import { ArgumentValidationError, type ValidatorFn } from 'type-graphql';

/** Distinct valid values remembered per argument; past this the oldest is forgotten. */
const REMEMBERED = 2_000;

/**
 * An argument validator for hot read paths (the catalog search's filter, on every storefront
 * page): class-validator with the options type-graphql uses, and the same `ArgumentValidationError`
 * when it fails, but a value that passed once is not validated again. Validation of these inputs
 * depends on the value alone (no validator looks at time, the caller or the database), so the
 * answer for an equal value is the same; only the (bounded) set of passing values is kept, so
 * invalid inputs are checked every time.
 */
export function rememberedValidation(): ValidatorFn {
  const passed = new Map<string, true>();
  return async (value: unknown) => {
    if (value === null || typeof value !== 'object') return;
    // Class instances of one input type: equal JSON, equal field values.
    const key = JSON.stringify(value);
    if (passed.has(key)) return;
    try {
      await validateOrReject(value as object, { skipMissingProperties: true, forbidUnknownValues: false });
    } catch (errors) {
      throw new ArgumentValidationError(errors as never);
    }
    if (passed.size >= REMEMBERED) passed.delete(passed.keys().next().value!);
    passed.set(key, true);
  };
}
