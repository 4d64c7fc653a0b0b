"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.migrationsList = void 0;
const Migration20261123000000_foundation_1 = require("./Migration20261123000000_foundation");
/** Every migration, in order. Listed explicitly so compiled and TypeScript runs see the same set. */
exports.migrationsList = [
    { name: 'Migration20261123000000_foundation', class: Migration20261123000000_foundation_1.Migration20261123000000_foundation },
];
//# sourceMappingURL=index.js.map