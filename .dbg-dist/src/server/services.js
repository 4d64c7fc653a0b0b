"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.createServices = createServices;
const catalog_service_1 = require("../modules/catalog/catalog.service");
const search_service_1 = require("../modules/catalog/search.service");
const identity_service_1 = require("../modules/identity/identity.service");
const token_1 = require("../modules/identity/token");
const inventory_service_1 = require("../modules/inventory/inventory.service");
/** The application's services: stateless singletons that take the request's EntityManager. */
function createServices(config) {
    const tokens = new token_1.TokenService(config.jwtSecret, config.tokenTtlSeconds);
    const search = new search_service_1.SearchService(config.limits.maxPageSize, config.searchCacheTtlMs);
    return {
        tokens,
        identity: new identity_service_1.IdentityService(tokens),
        catalog: new catalog_service_1.CatalogService(() => search.invalidate()),
        search,
        inventory: new inventory_service_1.InventoryService(() => search.invalidate()),
    };
}
//# sourceMappingURL=services.js.map