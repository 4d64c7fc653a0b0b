import { StateMachine } from '../../shared/state-machine';
import { ShipmentStatus } from './fulfillment.types';

const S = ShipmentStatus;

/**
 * The shipment lifecycle, as carriers report it. Carriers skip scans and lose events, so a label
 * may be followed directly by any later status. OUT_FOR_DELIVERY may fall back to IN_TRANSIT (a
 * failed delivery attempt goes back to the depot), and an EXCEPTION (damage, customs, wrong
 * address) may be resolved into any moving status. DELIVERED is final: it is what completes the
 * order, and an order never goes back from DELIVERED to SHIPPED.
 *
 * A report of the current status again (another IN_TRANSIT scan) is not a move; the webhook
 * treats it as a refresh of a non-final status.
 */
export const shipmentLifecycle = new StateMachine<ShipmentStatus>({
  [S.LABEL_CREATED]: [S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED, S.EXCEPTION],
  [S.IN_TRANSIT]: [S.OUT_FOR_DELIVERY, S.DELIVERED, S.EXCEPTION],
  [S.OUT_FOR_DELIVERY]: [S.IN_TRANSIT, S.DELIVERED, S.EXCEPTION],
  [S.EXCEPTION]: [S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED],
  [S.DELIVERED]: [],
});

/**
 * Whether a carrier report of `to` may set a shipment that is at `from`: a move of the lifecycle,
 * or the same non-final status reported again (a newer scan).
 */
export const acceptsReport = (from: ShipmentStatus, to: ShipmentStatus): boolean =>
  from === to ? !shipmentLifecycle.isFinal(from) : shipmentLifecycle.can(from, to);
