"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.resolvers = void 0;
exports.buildAppSchema = buildAppSchema;
exports.schemaText = schemaText;
require("reflect-metadata");
const graphql_1 = require("graphql");
const graphql_scalars_1 = require("graphql-scalars");
const type_graphql_1 = require("type-graphql");
const catalog_resolver_1 = require("../modules/catalog/catalog.resolver");
const variant_resolver_1 = require("../modules/catalog/variant.resolver");
const identity_resolver_1 = require("../modules/identity/identity.resolver");
const identity_types_1 = require("../modules/identity/identity.types");
const error_result_1 = require("../shared/error-result");
exports.resolvers = [
    identity_resolver_1.IdentityResolver,
    catalog_resolver_1.ProductResolver,
    catalog_resolver_1.ProductConnectionResolver,
    catalog_resolver_1.CategoryResolver,
    catalog_resolver_1.MerchantResolver,
    variant_resolver_1.VariantResolver,
];
let cached;
/** The executable schema (built once per process). */
function buildAppSchema() {
    return (cached ??= (0, type_graphql_1.buildSchemaSync)({
        resolvers: exports.resolvers,
        // Customer is how merchants see buyers on orders; listed so clients can rely on it already.
        orphanedTypes: [error_result_1.ErrorResult, error_result_1.UserError, identity_types_1.Customer],
        scalarsMap: [{ type: Date, scalar: graphql_scalars_1.DateTimeResolver }],
        validate: { forbidUnknownValues: false },
        emitSchemaFile: false,
    }));
}
/** The schema text committed as schema.graphql. */
function schemaText() {
    void graphql_scalars_1.JSONResolver;
    return (0, graphql_1.printSchema)((0, graphql_1.lexicographicSortSchema)(buildAppSchema())) + '\n';
}
//# sourceMappingURL=schema.js.map