import { badInput } from '../../shared/errors';

/** C0 and C1 control characters (tabs and newlines included): never part of a carrier name or a tracking number. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** A carrier name or tracking number: trimmed, 1 to 100 characters, no control characters. */
export function shippingText(value: string, field: string, max = 100): string {
  const v = typeof value === 'string' ? value.trim() : '';
  if (v.length < 1 || v.length > max || CONTROL.test(v)) {
    throw badInput(`${field} must be 1 to ${max} characters without control characters`, field);
  }
  return v;
}

export function checkVersion(expectedVersion: number): void {
  if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 1) {
    throw badInput('expectedVersion must be a positive integer (the version you read)', 'expectedVersion');
  }
}
