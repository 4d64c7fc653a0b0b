import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterSaleEntry, afterSaleLifecycles } from '../../src/modules/aftersale/aftersale.lifecycle';
import { shipmentEntry, shipmentLifecycle } from '../../src/modules/fulfillment/shipment.lifecycle';
import { everyOrderMove, orderEntry, orderLifecycle } from '../../src/modules/order/order.lifecycle';
import { paymentEntry, paymentLifecycle } from '../../src/modules/payment/payment.lifecycle';
import type { Effect, EntryEffects } from '../../src/shared/state-machine';

/*
 * The lifecycle files list who enters each state and what entering it does, naming the code. These
 * checks keep the lists true: every named function exists in the named file, and every state that
 * can be reached says who reaches it.
 */

const modules = join(__dirname, '../../src/modules');
const lifecycles: [string, EntryEffects<string>, { sourcesOf(s: string): string[] }][] = [
  ['order', orderEntry, orderLifecycle],
  ['payment', paymentEntry, paymentLifecycle],
  ['shipment', shipmentEntry, shipmentLifecycle],
  ['after-sale', afterSaleEntry, afterSaleLifecycles.EXCHANGE],
];

const all: [string, Effect][] = [
  ...lifecycles.flatMap(([name, entry]) =>
    Object.entries(entry).flatMap(([state, e]) =>
      [...e.enteredBy, ...e.effects].map((x): [string, Effect] => [`${name} ${state}`, x]),
    ),
  ),
  ...everyOrderMove.map((x): [string, Effect] => ['every order move', x]),
];

/** A declaration of `name` in TypeScript source: a function, a method, a class or a constant. */
const declares = (source: string, name: string) =>
  new RegExp(
    `(function\\s+${name}\\b|class\\s+${name}\\b|const\\s+${name}\\b|^\\s+(private\\s+|async\\s+)*${name}\\s*[(<])`,
    'm',
  ).test(source);

describe('lifecycle files', () => {
  it.each(all.map(([where, e]) => [where, e.by]))('%s names code that exists: %s', (_where, by) => {
    const [file, name] = by.split('#');
    expect(name).toMatch(/^\w+$/);
    const source = readFileSync(join(modules, file), 'utf8');
    expect(declares(source, name)).toBe(true);
  });

  it('says who enters every state that has a way in', () => {
    for (const [name, entry, machine] of lifecycles) {
      for (const [state, e] of Object.entries(entry)) {
        const reachable = machine.sourcesOf(state).length > 0;
        if (reachable || e.effects.length > 0)
          expect([name, state, e.enteredBy.length > 0]).toEqual([name, state, true]);
      }
    }
  });

  it('has no GraphQL in a lifecycle file', () => {
    for (const file of [
      'order/order.lifecycle.ts',
      'payment/payment.lifecycle.ts',
      'fulfillment/shipment.lifecycle.ts',
      'aftersale/aftersale.lifecycle.ts',
    ]) {
      expect([file, /type-graphql|graphql/.test(readFileSync(join(modules, file), 'utf8'))]).toEqual([
        file,
        false,
      ]);
    }
  });
});
