/**
 * The runtime switches operators flip while the service runs (mega-sale day: shed a feature
 * without a deploy). Every switch is on unless an admin turned it off; a name that is not listed
 * here cannot be set, so a typo never creates a switch nobody reads.
 */
export const SWITCHES = {
  recommendations: {
    description: 'Product.alsoBought (order-history recommendations). Off: it answers [].',
    default: true,
  },
  search_facets: {
    description: 'Facet counts of product searches. Off: facets answer [].',
    default: true,
  },
  checkout: {
    description:
      'Taking new orders: checkoutCreate and flash-sale entry. Off: they answer SERVICE_DEGRADED and write nothing.',
    default: true,
  },
} as const satisfies Record<string, { description: string; default: boolean }>;

export type SwitchName = keyof typeof SWITCHES;

export const SWITCH_NAMES = Object.keys(SWITCHES) as SwitchName[];

export const isSwitchName = (name: string): name is SwitchName => Object.hasOwn(SWITCHES, name);

/** A switch as an admin sees it: its value and when an admin last set it (null: never). */
export interface SwitchState {
  name: SwitchName;
  enabled: boolean;
  description: string;
  updatedAt: Date | null;
}
