import type { PricingService } from '../pricing/pricing.service';

/** CART_MAX_LINE_QUANTITY and CART_MAX_LINES. */
export interface CartLimits {
  maxLineQuantity: number;
  maxLines: number;
}

/** What the cart use cases need from the rest of the application. */
export interface CartDeps {
  pricing: PricingService;
  limits: CartLimits;
}
