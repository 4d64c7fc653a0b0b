import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Ctx, FieldResolver, ID, Info, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../server/context';
import { limitRules } from '../../server/limits';
import { authorize } from '../../shared/auth';
import { isErrorResult } from '../../shared/error-result';
import { MerchantType } from '../catalog/catalog.types';
import { Role } from '../identity/user.entity';
import { documentCheck } from './partner.documents';
import {
  ApiKeySecret,
  ApiKeyType,
  PartnerCreateInput,
  PartnerType,
  PersistedDocumentInput,
  PersistedDocumentsRegistered,
  PersistedDocumentsResult,
  PersistedDocumentType,
  toApiKey,
  toDocument,
  toPartner,
} from './partner.types';

@Resolver(() => PartnerType)
export class PartnerResolver {
  @Query(() => [PartnerType], { description: 'ADMIN: every partner; MERCHANT: its own.' })
  async partners(@Ctx() ctx: Context): Promise<PartnerType[]> {
    const p = authorize(ctx.principal, Role.ADMIN, Role.MERCHANT);
    return (await ctx.services.partners.list(ctx.em, p)).map(toPartner);
  }

  @Mutation(() => PartnerType, { description: 'ADMIN, or a MERCHANT for its own shop.' })
  async partnerCreate(
    @Arg('input', () => PartnerCreateInput) input: PartnerCreateInput,
    @Ctx() ctx: Context,
  ): Promise<PartnerType> {
    const p = authorize(ctx.principal, Role.ADMIN, Role.MERCHANT);
    return toPartner(await ctx.services.partners.create(ctx.em, p, input));
  }

  @Mutation(() => ApiKeySecret, {
    description:
      "ADMIN, or the partner's MERCHANT. The secret is shown once; several keys may be live (rotation).",
  })
  async apiKeyCreate(
    @Arg('partnerId', () => ID) partnerId: string,
    @Ctx() ctx: Context,
  ): Promise<ApiKeySecret> {
    const p = authorize(ctx.principal, Role.ADMIN, Role.MERCHANT);
    const { key, secret } = await ctx.services.partners.createKey(ctx.em, p, partnerId);
    return Object.assign(new ApiKeySecret(), { apiKey: toApiKey(key), secret });
  }

  @Mutation(() => ApiKeyType, {
    description: "ADMIN, or the partner's MERCHANT. Takes effect on the next request, in every process.",
  })
  async apiKeyRevoke(@Arg('id', () => ID) id: string, @Ctx() ctx: Context): Promise<ApiKeyType> {
    const p = authorize(ctx.principal, Role.ADMIN, Role.MERCHANT);
    return toApiKey(await ctx.services.partners.revokeKey(ctx.em, p, id));
  }

  @Mutation(() => PersistedDocumentsResult, {
    description:
      "ADMIN, or the partner's MERCHANT. All or nothing: each body is parsed, validated against the schema and hashed.",
  })
  async persistedDocumentsRegister(
    @Arg('partnerId', () => ID) partnerId: string,
    @Arg('documents', () => [PersistedDocumentInput]) documents: PersistedDocumentInput[],
    @Ctx() ctx: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<typeof PersistedDocumentsResult> {
    const p = authorize(ctx.principal, Role.ADMIN, Role.MERCHANT);
    const check = documentCheck(info.schema, limitRules(ctx.config.limits));
    const r = await ctx.services.partners.register(ctx.em, p, partnerId, documents, check);
    return isErrorResult(r) ? r : Object.assign(new PersistedDocumentsRegistered(), r);
  }

  @FieldResolver(() => MerchantType)
  async merchant(@Root() partner: PartnerType, @Ctx() ctx: Context): Promise<MerchantType> {
    return (await ctx.loaders.catalog.merchant.load(partner.merchantId))!;
  }

  @FieldResolver(() => [ApiKeyType], { description: 'Live and revoked keys, oldest first.' })
  async apiKeys(@Root() partner: PartnerType, @Ctx() ctx: Context): Promise<ApiKeyType[]> {
    return (await ctx.loaders.partner.keys.load(partner.id)).map(toApiKey);
  }

  @FieldResolver(() => [PersistedDocumentType])
  async documents(@Root() partner: PartnerType, @Ctx() ctx: Context): Promise<PersistedDocumentType[]> {
    return (await ctx.loaders.partner.documents.load(partner.id)).map(toDocument);
  }
}
