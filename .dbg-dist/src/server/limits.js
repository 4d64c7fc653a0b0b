"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.limitRules = limitRules;
const graphql_armor_cost_limit_1 = require("@escape.tech/graphql-armor-cost-limit");
const graphql_armor_max_aliases_1 = require("@escape.tech/graphql-armor-max-aliases");
const graphql_armor_max_depth_1 = require("@escape.tech/graphql-armor-max-depth");
/**
 * Depth, alias and cost limits as validation rules, so the same rules guard HTTP (Apollo) and
 * WebSocket (graphql-ws) operations.
 */
function limitRules(limits) {
    // Report a rejection as a validation error (400 GRAPHQL_VALIDATION_FAILED); the rules' default,
    // throwing from inside validation, reaches clients as a 500 INTERNAL_SERVER_ERROR.
    const reject = { propagateOnRejection: false, onReject: [(ctx, err) => ctx?.reportError(err)] };
    return [
        (0, graphql_armor_max_depth_1.maxDepthRule)({ n: limits.maxDepth, ignoreIntrospection: true, exposeLimits: true, ...reject }),
        (0, graphql_armor_max_aliases_1.maxAliasesRule)({ n: limits.maxAliases, exposeLimits: true, ...reject }),
        (0, graphql_armor_cost_limit_1.costLimitRule)({ maxCost: limits.maxCost, ignoreIntrospection: true, exposeLimits: true, ...reject }),
    ];
}
//# sourceMappingURL=limits.js.map