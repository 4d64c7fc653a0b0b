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
var Money_1;
Object.defineProperty(exports, "__esModule", { value: true });
exports.PageInfo = exports.Money = void 0;
const type_graphql_1 = require("type-graphql");
const money_1 = require("./money");
/** GraphQL object types shared by every module. */
let Money = Money_1 = class Money {
    amount;
    currency;
    static of(minor, currency) {
        return Object.assign(new Money_1(), { amount: (0, money_1.formatMinor)(minor), currency });
    }
};
exports.Money = Money;
__decorate([
    (0, type_graphql_1.Field)(() => String, { description: 'Decimal string in major units, e.g. "19.99".' }),
    __metadata("design:type", String)
], Money.prototype, "amount", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String, { description: 'ISO 4217 currency code.' }),
    __metadata("design:type", String)
], Money.prototype, "currency", void 0);
exports.Money = Money = Money_1 = __decorate([
    (0, type_graphql_1.ObjectType)({ description: 'An amount of money. Never a float: `amount` is a decimal string such as "19.99".' })
], Money);
let PageInfo = class PageInfo {
    hasNextPage;
    endCursor;
};
exports.PageInfo = PageInfo;
__decorate([
    (0, type_graphql_1.Field)(() => Boolean),
    __metadata("design:type", Boolean)
], PageInfo.prototype, "hasNextPage", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String, { nullable: true, description: 'Pass as `after` to get the next page.' }),
    __metadata("design:type", Object)
], PageInfo.prototype, "endCursor", void 0);
exports.PageInfo = PageInfo = __decorate([
    (0, type_graphql_1.ObjectType)({ description: 'Relay-style page information.' })
], PageInfo);
//# sourceMappingURL=types.js.map