"use strict";
var __decorate = (this && this.__decorate) || function (decorators, target, key, desc) {
    var c = arguments.length, r = c < 3 ? target : desc === null ? desc = Object.getOwnPropertyDescriptor(target, key) : desc, d;
    if (typeof Reflect === "object" && typeof Reflect.decorate === "function") r = Reflect.decorate(decorators, target, key, desc);
    else for (var i = decorators.length - 1; i >= 0; i--) if (d = decorators[i]) r = (c < 3 ? d(r) : c > 3 ? d(target, key, r) : d(target, key)) || r;
    return c > 3 && r && Object.defineProperty(target, key, r), r;
};
var __metadata = (this && this.__metadata) || function (k, v) {
    if (typeof Reflect === "object" && typeof Reflect.metadata === "function") return Reflect.metadata(k, v);
};
var __param = (this && this.__param) || function (paramIndex, decorator) {
    return function (target, key) { decorator(target, key, paramIndex); }
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.IdentityResolver = void 0;
const type_graphql_1 = require("type-graphql");
const auth_1 = require("../../shared/auth");
const catalog_types_1 = require("../catalog/catalog.types");
const identity_inputs_1 = require("./identity.inputs");
const identity_types_1 = require("./identity.types");
const user_entity_1 = require("./user.entity");
let IdentityResolver = class IdentityResolver {
    viewer(ctx) {
        return ctx.principal ? ctx.services.identity.viewer(ctx.em, ctx.principal) : null;
    }
    async signUp(input, ctx) {
        const r = await ctx.services.identity.signUp(ctx.em, input.email, input.password, input.name);
        return 'token' in r ? identity_types_1.AuthPayload.of(r.token, r.user) : r;
    }
    async signIn(email, password, ctx) {
        const r = await ctx.services.identity.signIn(ctx.em, email.slice(0, 254), password.slice(0, 200));
        return 'token' in r ? identity_types_1.AuthPayload.of(r.token, r.user) : r;
    }
    merchantCreate(input, ctx) {
        (0, auth_1.authorize)(ctx.principal, user_entity_1.Role.ADMIN);
        return ctx.services.identity.createMerchant(ctx.em, input);
    }
    merchant(user, ctx) {
        return user.merchantId ? ctx.loaders.catalog.merchant.load(String(user.merchantId)) : null;
    }
    id(user) {
        return String(user.id);
    }
};
exports.IdentityResolver = IdentityResolver;
__decorate([
    (0, type_graphql_1.Query)(() => identity_types_1.Viewer, { nullable: true, description: 'The signed-in user; null when anonymous.' }),
    __param(0, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Object]),
    __metadata("design:returntype", Object)
], IdentityResolver.prototype, "viewer", null);
__decorate([
    (0, type_graphql_1.Mutation)(() => identity_types_1.SignUpResult, { description: 'Creates a CUSTOMER account and signs it in.' }),
    __param(0, (0, type_graphql_1.Arg)('input', () => identity_inputs_1.SignUpInput)),
    __param(1, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [identity_inputs_1.SignUpInput, Object]),
    __metadata("design:returntype", Promise)
], IdentityResolver.prototype, "signUp", null);
__decorate([
    (0, type_graphql_1.Mutation)(() => identity_types_1.SignInResult),
    __param(0, (0, type_graphql_1.Arg)('email', () => String)),
    __param(1, (0, type_graphql_1.Arg)('password', () => String)),
    __param(2, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [String, String, Object]),
    __metadata("design:returntype", Promise)
], IdentityResolver.prototype, "signIn", null);
__decorate([
    (0, type_graphql_1.Mutation)(() => catalog_types_1.MerchantType, { description: 'ADMIN: creates a merchant and the MERCHANT user who operates it.' }),
    __param(0, (0, type_graphql_1.Arg)('input', () => identity_inputs_1.MerchantCreateInput)),
    __param(1, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [identity_inputs_1.MerchantCreateInput, Object]),
    __metadata("design:returntype", Promise)
], IdentityResolver.prototype, "merchantCreate", null);
__decorate([
    (0, type_graphql_1.FieldResolver)(() => catalog_types_1.MerchantType, { nullable: true, description: 'The merchant this user operates, for MERCHANT users.' }),
    __param(0, (0, type_graphql_1.Root)()),
    __param(1, (0, type_graphql_1.Ctx)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Function, Object]),
    __metadata("design:returntype", Object)
], IdentityResolver.prototype, "merchant", null);
__decorate([
    (0, type_graphql_1.FieldResolver)(() => type_graphql_1.ID),
    __param(0, (0, type_graphql_1.Root)()),
    __metadata("design:type", Function),
    __metadata("design:paramtypes", [Function]),
    __metadata("design:returntype", String)
], IdentityResolver.prototype, "id", null);
exports.IdentityResolver = IdentityResolver = __decorate([
    (0, type_graphql_1.Resolver)(() => identity_types_1.Viewer)
], IdentityResolver);
//# sourceMappingURL=identity.resolver.js.map