/**
 * node-postgres's crypto helpers (its `lib/crypto/utils.js`: the SCRAM-SHA-256 and MD5 logins),
 * on Node's synchronous crypto, loaded on first use. The CLI bundle puts this module in place of
 * pg's own (scripts/bundleCli.ts); the library keeps pg's.
 *
 * Why: pg's module loads node:crypto as it is imported and logs in through Web Crypto. For a
 * command that connects once, that is 6–11 ms of loading before the connection is even opened,
 * then 6–11 ms of Web Crypto calls (each a trip through the thread pool) against about 2 ms for
 * the same work done synchronously, measured here. Loaded on first use, node:crypto can load
 * while the server starts its backend (connection.ts's loginSocket warms it then).
 *
 * Same names, arguments and results as pg's module: the same bytes, tested against it.
 */
import type * as NodeCrypto from "node:crypto";
import { createRequire } from "node:module";

let loaded: typeof NodeCrypto | undefined;

/** node:crypto, loaded the first time it is asked for. */
export function nodeCrypto(): typeof NodeCrypto {
  // A Node built-in resolves the same from any folder, so the require needs no module URL.
  loaded ??= process.getBuiltinModule?.("node:crypto") ?? (createRequire("/")("node:crypto") as typeof NodeCrypto);
  return loaded;
}

export function randomBytes(length: number): Buffer {
  return nodeCrypto().randomBytes(length);
}

export function md5(text: string | Buffer): string {
  return nodeCrypto().createHash("md5").update(text).digest("hex");
}

/** What PostgreSQL's MD5 login expects: "md5" + md5(md5(password + user) + salt). */
export function postgresMd5PasswordHash(user: string, password: string, salt: Buffer): string {
  const inner = md5(password + user);
  return "md5" + md5(Buffer.concat([Buffer.from(inner), salt]));
}

export function sha256(data: NodeCrypto.BinaryLike): Buffer {
  return nodeCrypto().createHash("sha256").update(data).digest();
}

/**
 * A digest named as Web Crypto and pg's certificate parser name it ("SHA-256", "SHA512-224"),
 * for SCRAM's channel binding to the server's certificate.
 */
export function hashByName(hashName: string, data: NodeCrypto.BinaryLike): Buffer {
  return nodeCrypto().createHash(hashName.toLowerCase().replace(/^sha-/, "sha")).update(data).digest();
}

export function hmacSha256(key: NodeCrypto.BinaryLike, message: string): Buffer {
  return nodeCrypto().createHmac("sha256", key).update(message).digest();
}

/** SCRAM's SaltedPassword: PBKDF2 with HMAC-SHA-256, 32 bytes. */
export function deriveKey(password: string, salt: Uint8Array, iterations: number): Buffer {
  return nodeCrypto().pbkdf2Sync(password, salt, iterations, 32, "sha256");
}
