"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.createLoaders = createLoaders;
exports.createContext = createContext;
const catalog_loaders_1 = require("../modules/catalog/catalog.loaders");
function createLoaders(em) {
    return { catalog: (0, catalog_loaders_1.catalogLoaders)(em) };
}
function createContext(root, principal, services, config) {
    const em = root.fork();
    return { em, principal, loaders: createLoaders(em), services, config };
}
//# sourceMappingURL=context.js.map