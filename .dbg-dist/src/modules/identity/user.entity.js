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
exports.User = exports.Role = void 0;
const core_1 = require("@mikro-orm/core");
var Role;
(function (Role) {
    Role["CUSTOMER"] = "CUSTOMER";
    Role["MERCHANT"] = "MERCHANT";
    Role["ADMIN"] = "ADMIN";
})(Role || (exports.Role = Role = {}));
let User = class User {
    [core_1.OptionalProps];
    id;
    email;
    passwordHash;
    name;
    roles = [Role.CUSTOMER];
    /** The merchant this user operates (MERCHANT users). */
    merchantId;
    points = 0;
    createdAt = new Date();
};
exports.User = User;
__decorate([
    (0, core_1.PrimaryKey)({ type: 'bigint' }),
    __metadata("design:type", String)
], User.prototype, "id", void 0);
__decorate([
    (0, core_1.Property)({ type: 'text' }),
    __metadata("design:type", String)
], User.prototype, "email", void 0);
__decorate([
    (0, core_1.Property)({ type: 'text', hidden: true, lazy: true }),
    __metadata("design:type", String)
], User.prototype, "passwordHash", void 0);
__decorate([
    (0, core_1.Property)({ type: 'text' }),
    __metadata("design:type", String)
], User.prototype, "name", void 0);
__decorate([
    (0, core_1.Property)({ type: core_1.ArrayType }),
    __metadata("design:type", Array)
], User.prototype, "roles", void 0);
__decorate([
    (0, core_1.Property)({ type: 'bigint', nullable: true }),
    __metadata("design:type", Object)
], User.prototype, "merchantId", void 0);
__decorate([
    (0, core_1.Property)({ type: 'integer' }),
    __metadata("design:type", Object)
], User.prototype, "points", void 0);
__decorate([
    (0, core_1.Property)({ type: 'datetime', defaultRaw: 'now()' }),
    __metadata("design:type", Date)
], User.prototype, "createdAt", void 0);
exports.User = User = __decorate([
    (0, core_1.Entity)({ tableName: 'app_user' })
], User);
//# sourceMappingURL=user.entity.js.map