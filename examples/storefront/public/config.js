// Run-time settings of the storefront (replace this file per environment; the build does not change).
window.STOREFRONT_CONFIG = { apiUrl: 'http://localhost:4000/graphql' };
