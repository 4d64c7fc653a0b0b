"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.sqlCounterStorage = void 0;
exports.countStatement = countStatement;
const node_async_hooks_1 = require("node:async_hooks");
exports.sqlCounterStorage = new node_async_hooks_1.AsyncLocalStorage();
function countStatement() {
    const counter = exports.sqlCounterStorage.getStore();
    if (counter)
        counter.statements++;
}
//# sourceMappingURL=sql-stats.js.map