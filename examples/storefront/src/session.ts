/** What the storefront remembers in this browser: the shopper's token and cart. */

const TOKEN = 'storefront.token';
const CART = 'storefront.cart';
const NAME = 'storefront.name';

export const session = {
  get token(): string | null {
    return localStorage.getItem(TOKEN);
  },
  get cartId(): string | null {
    return localStorage.getItem(CART);
  },
  get name(): string | null {
    return localStorage.getItem(NAME);
  },
  signedIn(token: string, name: string, cartId: string | null) {
    localStorage.setItem(TOKEN, token);
    localStorage.setItem(NAME, name);
    if (cartId) localStorage.setItem(CART, cartId);
  },
  setCart(id: string | null) {
    if (id) localStorage.setItem(CART, id);
    else localStorage.removeItem(CART);
  },
  signOut() {
    localStorage.removeItem(TOKEN);
    localStorage.removeItem(NAME);
    localStorage.removeItem(CART);
  },
};
