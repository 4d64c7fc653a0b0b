"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.makeFormatError = makeFormatError;
const errors_1 = require("@apollo/server/errors");
const type_graphql_1 = require("type-graphql");
const CLIENT_CODES = new Set([
    'UNAUTHENTICATED',
    'FORBIDDEN',
    'BAD_USER_INPUT',
    'NOT_FOUND',
    'RATE_LIMITED',
    'GRAPHQL_PARSE_FAILED',
    'GRAPHQL_VALIDATION_FAILED',
    'PERSISTED_QUERY_NOT_FOUND',
    'PERSISTED_QUERY_NOT_SUPPORTED',
    'OPERATION_RESOLUTION_FAILURE',
    'BAD_REQUEST',
]);
/**
 * Client errors pass through with their code; input validation becomes BAD_USER_INPUT with the
 * failing fields; everything else is logged and reaches clients as INTERNAL_SERVER_ERROR with no
 * internals.
 */
function makeFormatError(log) {
    return (formatted, error) => {
        const original = (0, errors_1.unwrapResolverError)(error);
        if (original instanceof type_graphql_1.ArgumentValidationError) {
            const fields = flatten(original.extensions.validationErrors);
            return {
                message: `Invalid input: ${fields.map((f) => f.message).join('; ')}`,
                locations: formatted.locations,
                path: formatted.path,
                extensions: { code: 'BAD_USER_INPUT', fields },
            };
        }
        const code = formatted.extensions?.code;
        if (code && CLIENT_CODES.has(code)) {
            const { stacktrace: _s, ...extensions } = formatted.extensions ?? {};
            return { ...formatted, extensions };
        }
        log.error({ err: original }, 'unhandled error in GraphQL operation');
        return { message: 'Internal server error', path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    };
}
function flatten(errors, prefix = '') {
    return (errors ?? []).flatMap((e) => {
        const field = prefix ? `${prefix}.${e.property}` : e.property;
        const own = Object.values(e.constraints ?? {}).map((m) => ({ field, message: String(m) }));
        return [...own, ...flatten(e.children, field)];
    });
}
//# sourceMappingURL=errors.js.map