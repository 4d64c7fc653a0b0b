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
Object.defineProperty(exports, "__esModule", { value: true });
exports.MerchantCreateInput = exports.SignUpInput = void 0;
const class_validator_1 = require("class-validator");
const type_graphql_1 = require("type-graphql");
let SignUpInput = class SignUpInput {
    email;
    password;
    name;
};
exports.SignUpInput = SignUpInput;
__decorate([
    (0, type_graphql_1.Field)(() => String),
    (0, class_validator_1.IsEmail)({}, { message: 'email must be a valid email address' }),
    (0, class_validator_1.MaxLength)(254),
    __metadata("design:type", String)
], SignUpInput.prototype, "email", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String, { description: '8 to 200 characters.' }),
    (0, class_validator_1.Length)(8, 200, { message: 'password must be 8 to 200 characters' }),
    __metadata("design:type", String)
], SignUpInput.prototype, "password", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    (0, class_validator_1.Length)(1, 100),
    __metadata("design:type", String)
], SignUpInput.prototype, "name", void 0);
exports.SignUpInput = SignUpInput = __decorate([
    (0, type_graphql_1.InputType)()
], SignUpInput);
let MerchantCreateInput = class MerchantCreateInput {
    name;
    ownerEmail;
    ownerPassword;
    ownerName;
};
exports.MerchantCreateInput = MerchantCreateInput;
__decorate([
    (0, type_graphql_1.Field)(() => String),
    (0, class_validator_1.Length)(1, 200),
    __metadata("design:type", String)
], MerchantCreateInput.prototype, "name", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    (0, class_validator_1.IsEmail)({}, { message: 'ownerEmail must be a valid email address' }),
    (0, class_validator_1.MaxLength)(254),
    __metadata("design:type", String)
], MerchantCreateInput.prototype, "ownerEmail", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    (0, class_validator_1.Length)(8, 200, { message: 'ownerPassword must be 8 to 200 characters' }),
    __metadata("design:type", String)
], MerchantCreateInput.prototype, "ownerPassword", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    (0, class_validator_1.Length)(1, 100),
    __metadata("design:type", String)
], MerchantCreateInput.prototype, "ownerName", void 0);
exports.MerchantCreateInput = MerchantCreateInput = __decorate([
    (0, type_graphql_1.InputType)()
], MerchantCreateInput);
//# sourceMappingURL=identity.inputs.js.map