"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.forbidden = exports.unauthenticated = exports.notFound = exports.badInput = void 0;
exports.clientError = clientError;
const graphql_1 = require("graphql");
function clientError(code, message, extra = {}) {
    return new graphql_1.GraphQLError(message, { extensions: { code, ...extra } });
}
const badInput = (message, field) => clientError('BAD_USER_INPUT', message, field ? { field } : {});
exports.badInput = badInput;
const notFound = (what, id) => clientError('NOT_FOUND', id === undefined ? `${what} not found` : `${what} ${id} not found`);
exports.notFound = notFound;
const unauthenticated = () => clientError('UNAUTHENTICATED', 'Sign in first');
exports.unauthenticated = unauthenticated;
const forbidden = (message = 'Not allowed') => clientError('FORBIDDEN', message);
exports.forbidden = forbidden;
//# sourceMappingURL=errors.js.map