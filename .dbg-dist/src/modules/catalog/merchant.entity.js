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
exports.Merchant = void 0;
const core_1 = require("@mikro-orm/core");
let Merchant = class Merchant {
    [core_1.OptionalProps];
    id;
    name;
    createdAt = new Date();
};
exports.Merchant = Merchant;
__decorate([
    (0, core_1.PrimaryKey)({ type: 'bigint' }),
    __metadata("design:type", String)
], Merchant.prototype, "id", void 0);
__decorate([
    (0, core_1.Property)({ type: 'text' }),
    __metadata("design:type", String)
], Merchant.prototype, "name", void 0);
__decorate([
    (0, core_1.Property)({ type: 'datetime' }),
    __metadata("design:type", Date)
], Merchant.prototype, "createdAt", void 0);
exports.Merchant = Merchant = __decorate([
    (0, core_1.Entity)({ tableName: 'merchant' })
], Merchant);
//# sourceMappingURL=merchant.entity.js.map