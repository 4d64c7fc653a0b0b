import { GraphQLError } from 'graphql';
import { formatMinor, MAX_MINOR, parseMoney } from '../../src/shared/money';

const rejection = (input: string): GraphQLError => {
  try {
    parseMoney(input, 'price');
  } catch (e) {
    return e as GraphQLError;
  }
  throw new Error(`parseMoney accepted "${input}"`);
};

describe('parseMoney', () => {
  test.each([
    ['19.99', 1999],
    ['20', 2000],
    ['0.5', 50],
    ['0.05', 5],
    ['0', 0],
    ['0.00', 0],
    ['007.10', 710],
    [' 3.25 ', 325],
    ['100000000', MAX_MINOR],
  ])('"%s" is %d minor units', (input, minor) => {
    expect(parseMoney(input, 'price')).toBe(minor);
  });

  test.each([
    '-1',
    '-0.01',
    '1.234',
    'abc',
    '1e5',
    '',
    '.5',
    '5.',
    '1,00',
    '+1',
    '0x10',
    'NaN',
    'Infinity',
    '1 000',
  ])('"%s" is BAD_USER_INPUT naming the field', (input) => {
    const e = rejection(input);
    expect(e).toBeInstanceOf(GraphQLError);
    expect(e.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'price' });
    expect(e.message).toBe('price must be a non-negative amount such as "19.99"');
  });

  test('amounts above the maximum are too large', () => {
    for (const input of ['100000000.01', '999999999999.99', '100000001']) {
      const e = rejection(input);
      expect(e.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'price' });
      expect(e.message).toBe('price is too large');
    }
  });

  test('more than twelve integer digits is rejected as malformed', () => {
    expect(rejection('1234567890123').message).toBe('price must be a non-negative amount such as "19.99"');
  });
});

describe('formatMinor', () => {
  test.each([
    [0, '0.00'],
    [5, '0.05'],
    [50, '0.50'],
    [1999, '19.99'],
    [2000, '20.00'],
    [100, '1.00'],
    [-1999, '-19.99'],
    [-5, '-0.05'],
    [MAX_MINOR, '100000000.00'],
  ])('%d is "%s"', (minor, text) => {
    expect(formatMinor(minor)).toBe(text);
  });

  test('round trips: formatMinor(parseMoney(x)) is x with two decimals, parseMoney(formatMinor(n)) is n', () => {
    expect(formatMinor(parseMoney('19.99', 'p'))).toBe('19.99');
    expect(formatMinor(parseMoney('20', 'p'))).toBe('20.00');
    expect(formatMinor(parseMoney('0.5', 'p'))).toBe('0.50');
    for (const n of [0, 1, 9, 10, 99, 100, 101, 1234, 99999, 123456789, MAX_MINOR - 1, MAX_MINOR]) {
      expect(parseMoney(formatMinor(n), 'p')).toBe(n);
    }
  });
});
