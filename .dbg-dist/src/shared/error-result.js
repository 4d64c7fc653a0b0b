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
var UserError_1;
Object.defineProperty(exports, "__esModule", { value: true });
exports.UserError = exports.ErrorResult = exports.ErrorCode = void 0;
const type_graphql_1 = require("type-graphql");
/** Codes of expected business failures, returned as data (`ErrorResult`), never thrown. */
var ErrorCode;
(function (ErrorCode) {
    ErrorCode["INVALID_CREDENTIALS"] = "INVALID_CREDENTIALS";
    ErrorCode["EMAIL_TAKEN"] = "EMAIL_TAKEN";
    ErrorCode["OUT_OF_STOCK"] = "OUT_OF_STOCK";
    ErrorCode["VARIANT_UNAVAILABLE"] = "VARIANT_UNAVAILABLE";
    ErrorCode["CART_EMPTY"] = "CART_EMPTY";
    ErrorCode["COUPON_INVALID"] = "COUPON_INVALID";
    ErrorCode["COUPON_EXHAUSTED"] = "COUPON_EXHAUSTED";
    ErrorCode["POINTS_INSUFFICIENT"] = "POINTS_INSUFFICIENT";
    ErrorCode["IDEMPOTENCY_KEY_REUSED"] = "IDEMPOTENCY_KEY_REUSED";
    ErrorCode["ORDER_STATE_INVALID"] = "ORDER_STATE_INVALID";
    ErrorCode["PAYMENT_WINDOW_EXPIRED"] = "PAYMENT_WINDOW_EXPIRED";
    ErrorCode["PAYMENT_DECLINED"] = "PAYMENT_DECLINED";
    ErrorCode["INSUFFICIENT_FUNDS"] = "INSUFFICIENT_FUNDS";
    ErrorCode["VERSION_CONFLICT"] = "VERSION_CONFLICT";
    ErrorCode["AFTER_SALE_NOT_ALLOWED"] = "AFTER_SALE_NOT_ALLOWED";
    ErrorCode["REFUND_EXCEEDS_PAID"] = "REFUND_EXCEEDS_PAID";
    ErrorCode["SKU_TAKEN"] = "SKU_TAKEN";
    ErrorCode["SLUG_TAKEN"] = "SLUG_TAKEN";
})(ErrorCode || (exports.ErrorCode = ErrorCode = {}));
(0, type_graphql_1.registerEnumType)(ErrorCode, { name: 'ErrorCode', description: 'Why an expected business failure happened.' });
let ErrorResult = class ErrorResult {
    errorCode;
    message;
};
exports.ErrorResult = ErrorResult;
__decorate([
    (0, type_graphql_1.Field)(() => ErrorCode),
    __metadata("design:type", String)
], ErrorResult.prototype, "errorCode", void 0);
__decorate([
    (0, type_graphql_1.Field)(() => String),
    __metadata("design:type", String)
], ErrorResult.prototype, "message", void 0);
exports.ErrorResult = ErrorResult = __decorate([
    (0, type_graphql_1.InterfaceType)({ description: 'An expected business failure: nothing was changed.' })
], ErrorResult);
let UserError = UserError_1 = class UserError extends ErrorResult {
    field;
    static of(errorCode, message, field) {
        return Object.assign(new UserError_1(), { errorCode, message, field: field ?? null });
    }
};
exports.UserError = UserError;
__decorate([
    (0, type_graphql_1.Field)(() => String, { nullable: true, description: 'The input field at fault, when there is one.' }),
    __metadata("design:type", Object)
], UserError.prototype, "field", void 0);
exports.UserError = UserError = UserError_1 = __decorate([
    (0, type_graphql_1.ObjectType)({ implements: ErrorResult, description: 'Any expected failure without extra data.' })
], UserError);
//# sourceMappingURL=error-result.js.map