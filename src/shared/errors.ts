import { GraphQLError } from 'graphql';

/** Codes of thrown errors, in `extensions.code`. */
export type ThrownCode =
  'UNAUTHENTICATED' | 'FORBIDDEN' | 'BAD_USER_INPUT' | 'NOT_FOUND' | 'RATE_LIMITED' | 'INTERNAL_SERVER_ERROR';

export function clientError(
  code: ThrownCode,
  message: string,
  extra: Record<string, unknown> = {},
): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extra } });
}

export const badInput = (message: string, field?: string) =>
  clientError('BAD_USER_INPUT', message, field ? { field } : {});
export const notFound = (what: string, id?: string) =>
  clientError('NOT_FOUND', id === undefined ? `${what} not found` : `${what} ${id} not found`);
export const unauthenticated = () => clientError('UNAUTHENTICATED', 'Sign in first');
export const forbidden = (message = 'Not allowed') => clientError('FORBIDDEN', message);
