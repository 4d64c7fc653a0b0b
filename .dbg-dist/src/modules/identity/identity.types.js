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
var AuthPayload_1;
Object.defineProperty(exports, "__esModule", { value: true });
exports.SignInResult = exports.SignUpResult = exports.Customer = exports.AuthPayload = exports.Viewer = void 0;
const type_graphql_1 = require("type-graphql");
const error_result_1 = require("../../shared/error-result");
const user_entity_1 = require("./user.entity");
(0, type_graphql_1.registerEnumType)(user_entity_1.Role, { name: 'Role', description: 'What a user may do.' });
let Viewer = class Viewer {
    id;
    email;
    name;
    roles;
    points;
    merchantId;
};
exports.Viewer = Viewer;
__decorate([
    (0, type_graphql_1.Field)(() => type_graphql_1.ID),
    __metadata("design:type", String)
], Viewer.prototype, "id", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    __metadata("design:type", String)
], Viewer.prototype, "email", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    __metadata("design:type", String)
], Viewer.prototype, "name", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => [user_entity_1.Role]),
    __metadata("design:type", Array)
], Viewer.prototype, "roles", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => type_graphql_1.Int, { description: 'Loyalty points.' }),
    __metadata("design:type", Number)
], Viewer.prototype, "points", void 0);
exports.Viewer = Viewer = __decorate([
    (0, type_graphql_1.ObjectType)({ description: 'The signed-in user.' })
], Viewer);
let AuthPayload = AuthPayload_1 = class AuthPayload {
    token;
    viewer;
    static of(token, viewer) {
        return Object.assign(new AuthPayload_1(), { token, viewer });
    }
};
exports.AuthPayload = AuthPayload;
__decorate([
    (0, type_graphql_1.Field)(() => String, { description: 'Bearer token for the Authorization header.' }),
    __metadata("design:type", String)
], AuthPayload.prototype, "token", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => Viewer),
    __metadata("design:type", user_entity_1.User)
], AuthPayload.prototype, "viewer", void 0);
exports.AuthPayload = AuthPayload = AuthPayload_1 = __decorate([
    (0, type_graphql_1.ObjectType)({ description: 'A signed-in session.' })
], AuthPayload);
let Customer = class Customer {
    id;
    name;
};
exports.Customer = Customer;
__decorate([
    (0, type_graphql_1.Field)(() => type_graphql_1.ID),
    __metadata("design:type", String)
], Customer.prototype, "id", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    __metadata("design:type", String)
], Customer.prototype, "name", void 0);
exports.Customer = Customer = __decorate([
    (0, type_graphql_1.ObjectType)({ description: 'A buyer as a merchant sees them.' })
], Customer);
exports.SignUpResult = (0, type_graphql_1.createUnionType)({ name: 'SignUpResult', types: () => [AuthPayload, error_result_1.UserError] });
exports.SignInResult = (0, type_graphql_1.createUnionType)({ name: 'SignInResult', types: () => [AuthPayload, error_result_1.UserError] });
//# sourceMappingURL=identity.types.js.map