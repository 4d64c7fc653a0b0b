import type { Config } from '../config';
import { CatalogService } from '../modules/catalog/catalog.service';
import { SearchService } from '../modules/catalog/search.service';
import { IdentityService } from '../modules/identity/identity.service';
import { TokenService } from '../modules/identity/token';
import { InventoryService } from '../modules/inventory/inventory.service';

/** The application's services: stateless singletons that take the request's EntityManager. */
export function createServices(config: Config) {
  const tokens = new TokenService(config.jwtSecret, config.tokenTtlSeconds);
  const search = new SearchService(config.limits.maxPageSize, config.searchCacheTtlMs);
  return {
    tokens,
    identity: new IdentityService(tokens),
    catalog: new CatalogService(() => search.invalidate()),
    search,
    inventory: new InventoryService(() => search.invalidate()),
  };
}

export type Services = ReturnType<typeof createServices>;
