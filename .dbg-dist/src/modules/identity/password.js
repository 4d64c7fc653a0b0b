"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.dummyHash = void 0;
exports.hashPassword = hashPassword;
exports.verifyPassword = verifyPassword;
const node_crypto_1 = require("node:crypto");
const scrypt = (password, salt, keylen, opts) => new Promise((resolve, reject) => (0, node_crypto_1.scrypt)(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));
const PARAMS = { N: 16384, r: 8, p: 1 };
const KEYLEN = 32;
/** `scrypt$N$r$p$salt$hash`, so parameters can be raised later without breaking old hashes. */
async function hashPassword(password) {
    const salt = (0, node_crypto_1.randomBytes)(16);
    const key = await scrypt(password, salt, KEYLEN, PARAMS);
    return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64'), key.toString('base64')].join('$');
}
async function verifyPassword(password, stored) {
    const [kind, n, r, p, salt, hash] = stored.split('$');
    if (kind !== 'scrypt')
        return false;
    const expected = Buffer.from(hash, 'base64');
    const key = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, {
        N: Number(n),
        r: Number(r),
        p: Number(p),
    });
    return (0, node_crypto_1.timingSafeEqual)(key, expected);
}
/**
 * A hash to verify against when the email is unknown, so an unknown email and a wrong password
 * take about the same time and cannot be told apart.
 */
let dummy;
const dummyHash = () => (dummy ??= hashPassword((0, node_crypto_1.randomBytes)(16).toString('hex')));
exports.dummyHash = dummyHash;
//# sourceMappingURL=password.js.map