import 'reflect-metadata';
import { GraphQLSchema, printSchema, lexicographicSortSchema } from 'graphql';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import { buildSchemaSync } from 'type-graphql';
import {
  CategoryResolver,
  MerchantResolver,
  ProductConnectionResolver,
  ProductResolver,
} from '../modules/catalog/catalog.resolver';
import { VariantResolver } from '../modules/catalog/variant.resolver';
import { IdentityResolver } from '../modules/identity/identity.resolver';
import { Customer } from '../modules/identity/identity.types';
import { ErrorResult, UserError } from '../shared/error-result';

export const resolvers = [
  IdentityResolver,
  ProductResolver,
  ProductConnectionResolver,
  CategoryResolver,
  MerchantResolver,
  VariantResolver,
] as const;

let cached: GraphQLSchema | undefined;

/** The executable schema (built once per process). */
export function buildAppSchema(): GraphQLSchema {
  return (cached ??= buildSchemaSync({
    resolvers,
    // Customer is how merchants see buyers on orders; listed so clients can rely on it already.
    orphanedTypes: [ErrorResult, UserError, Customer],
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
    validate: { forbidUnknownValues: false },
    emitSchemaFile: false,
  }));
}

/** The schema text committed as schema.graphql. */
export function schemaText(): string {
  void JSONResolver;
  return printSchema(lexicographicSortSchema(buildAppSchema())) + '\n';
}
