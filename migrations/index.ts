import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261123000000_foundation } from './Migration20261123000000_foundation';
import { Migration20261123010000_carts_orders } from './Migration20261123010000_carts_orders';
import { Migration20261123020000_ledger } from './Migration20261123020000_ledger';
import { Migration20261123030000_payments } from './Migration20261123030000_payments';
import { Migration20261130000000_outbox_fulfillment } from './Migration20261130000000_outbox_fulfillment';
import { Migration20261130020000_after_sale } from './Migration20261130020000_after_sale';
import { Migration20261130030000_order_completion } from './Migration20261130030000_order_completion';
import { Migration20261204030000_tracking_unique } from './Migration20261204030000_tracking_unique';
import { Migration20261204040000_partners } from './Migration20261204040000_partners';
import { Migration20261204050000_webhooks } from './Migration20261204050000_webhooks';
import { Migration20261204060000_storefront } from './Migration20261204060000_storefront';
import { Migration20261204070000_flash_sales } from './Migration20261204070000_flash_sales';
import { Migration20261204071000_flash_sale_reconcile } from './Migration20261204071000_flash_sale_reconcile';
import { Migration20261204080000_runtime_switches } from './Migration20261204080000_runtime_switches';
import { Migration20261204081000_sales_rollup } from './Migration20261204081000_sales_rollup';
import { Migration20261204082000_operations } from './Migration20261204082000_operations';
import { Migration20261204100000_order_archive } from './Migration20261204100000_order_archive';
import { Migration20261204110000_seller_store } from './Migration20261204110000_seller_store';
import { Migration20261204130000_account_security } from './Migration20261204130000_account_security';
import { Migration20261204150000_ledger_stripes } from './Migration20261204150000_ledger_stripes';
import { Migration20261204170000_loyalty } from './Migration20261204170000_loyalty';
import { Migration20261204190000_signup_verification } from './Migration20261204190000_signup_verification';
import { Migration20261204200000_flash_sale_persist_line } from './Migration20261204200000_flash_sale_persist_line';
import { Migration20261205010000_sold_total_by_difference } from './Migration20261205010000_sold_total_by_difference';
import { Migration20261205020000_clearing_stripes } from './Migration20261205020000_clearing_stripes';

/** Every migration, in order. Listed explicitly so compiled and TypeScript runs see the same set. */
export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261123000000_foundation', class: Migration20261123000000_foundation },
  { name: 'Migration20261123010000_carts_orders', class: Migration20261123010000_carts_orders },
  { name: 'Migration20261123020000_ledger', class: Migration20261123020000_ledger },
  { name: 'Migration20261123030000_payments', class: Migration20261123030000_payments },
  { name: 'Migration20261130000000_outbox_fulfillment', class: Migration20261130000000_outbox_fulfillment },
  { name: 'Migration20261130020000_after_sale', class: Migration20261130020000_after_sale },
  { name: 'Migration20261130030000_order_completion', class: Migration20261130030000_order_completion },
  { name: 'Migration20261204030000_tracking_unique', class: Migration20261204030000_tracking_unique },
  { name: 'Migration20261204040000_partners', class: Migration20261204040000_partners },
  { name: 'Migration20261204050000_webhooks', class: Migration20261204050000_webhooks },
  { name: 'Migration20261204060000_storefront', class: Migration20261204060000_storefront },
  { name: 'Migration20261204070000_flash_sales', class: Migration20261204070000_flash_sales },
  {
    name: 'Migration20261204071000_flash_sale_reconcile',
    class: Migration20261204071000_flash_sale_reconcile,
  },
  { name: 'Migration20261204080000_runtime_switches', class: Migration20261204080000_runtime_switches },
  { name: 'Migration20261204081000_sales_rollup', class: Migration20261204081000_sales_rollup },
  { name: 'Migration20261204082000_operations', class: Migration20261204082000_operations },
  { name: 'Migration20261204100000_order_archive', class: Migration20261204100000_order_archive },
  { name: 'Migration20261204110000_seller_store', class: Migration20261204110000_seller_store },
  { name: 'Migration20261204130000_account_security', class: Migration20261204130000_account_security },
  { name: 'Migration20261204150000_ledger_stripes', class: Migration20261204150000_ledger_stripes },
  { name: 'Migration20261204170000_loyalty', class: Migration20261204170000_loyalty },
  {
    name: 'Migration20261204190000_signup_verification',
    class: Migration20261204190000_signup_verification,
  },
  {
    name: 'Migration20261204200000_flash_sale_persist_line',
    class: Migration20261204200000_flash_sale_persist_line,
  },
  {
    name: 'Migration20261205010000_sold_total_by_difference',
    class: Migration20261205010000_sold_total_by_difference,
  },
  { name: 'Migration20261205020000_clearing_stripes', class: Migration20261205020000_clearing_stripes },
];
