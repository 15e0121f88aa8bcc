// Access tokens for the tests (docs/protocol.md, "Tokens"), minted with
// node:crypto the way an application backend in any language would: compact
// JWS, HS256 (HMAC-SHA256), ES256 (P-256, signature r || s) and RS256
// (RSASSA-PKCS1-v1_5, SHA-256); and malformed ones on purpose.
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A secret long enough for --auth-secret (at least 32 bytes). */
export const SECRET = 'test-secret-0123456789abcdef-0123456789';

export const b64url = (data) => Buffer.from(data).toString('base64url');

/** Seconds since the epoch, as exp and nbf count them. */
export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Claims valid for an hour, every room, no capability; `over` replaces or adds claims (undefined removes one). */
export function claims(over = {}) {
  const c = { sub: 'u1', rooms: '*', exp: nowSeconds() + 3600, ...over };
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  return c;
}

/**
 * A token from a header and a payload (objects, or strings taken as they are)
 * signed by `signer(signingInput) -> Buffer`.
 */
export function jwt(header, payload, signer) {
  const part = (x) => b64url(typeof x === 'string' ? x : JSON.stringify(x));
  const input = `${part(header)}.${part(payload)}`;
  return `${input}.${b64url(signer(input))}`;
}

export const hmac = (secret) => (input) => createHmac('sha256', secret).update(input).digest();
export const ecSigner = (privateKey) => (input) => sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
export const rsaSigner = (privateKey) => (input) => sign('sha256', Buffer.from(input), privateKey);

export const hs256 = (payload, secret = SECRET, header = { alg: 'HS256', typ: 'JWT' }) => jwt(header, payload, hmac(secret));
export const es256 = (payload, privateKey) => jwt({ alg: 'ES256', typ: 'JWT' }, payload, ecSigner(privateKey));
export const rs256 = (payload, privateKey) => jwt({ alg: 'RS256', typ: 'JWT' }, payload, rsaSigner(privateKey));

/** The three parts of a token. */
export const parts = (token) => token.split('.');

/** The payload of a token, decoded (no check). */
export const payloadOf = (token) => JSON.parse(Buffer.from(parts(token)[1], 'base64url').toString('utf8'));

/** The token with its signature bytes replaced by f(bytes). */
export function resign(token, f) {
  const [h, p, s] = parts(token);
  return `${h}.${p}.${b64url(f(Buffer.from(s, 'base64url')))}`;
}

/**
 * A key pair for --auth-public-key: kind 'ec' (P-256) or 'rsa' (2048 bits).
 * Resolves {privateKey, publicPem, file, remove()}; the file holds the public PEM.
 */
export function keyPair(kind) {
  const { privateKey, publicKey } = kind === 'ec'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' });
  const dir = mkdtempSync(join(tmpdir(), 'compeit-key-'));
  const file = join(dir, `${kind}.pem`);
  writeFileSync(file, publicPem);
  return { privateKey, publicPem, file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
