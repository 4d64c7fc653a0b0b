"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
require("reflect-metadata");
const node_fs_1 = require("node:fs");
const node_path_1 = require("node:path");
const schema_1 = require("../src/server/schema");
/** Writes schema.graphql from the code-first schema; a test fails when the committed file is stale. */
const file = (0, node_path_1.join)(__dirname, '..', '..', 'schema.graphql');
(0, node_fs_1.writeFileSync)(file, (0, schema_1.schemaText)());
console.log(`wrote ${file}`);
//# sourceMappingURL=emit-schema.js.map