/**
 * The CLI's bundle logs in to PostgreSQL with pgLazyCrypto.ts in place of node-postgres's own
 * crypto helpers (scripts/bundleCli.ts). Both must give the same bytes for the same inputs, or a
 * login that works from the library would fail from the terminal. The logins themselves run for
 * real in the PostgreSQL tests of the commands (SCRAM-SHA-256 on the test server).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import test from "node:test";
import * as lazy from "../src/database/postgres/pgLazyCrypto.js";

interface PgCrypto {
  postgresMd5PasswordHash(user: string, password: string, salt: Buffer): Promise<string>;
  randomBytes(length: number): Buffer;
  deriveKey(password: string, salt: Uint8Array, iterations: number): Promise<ArrayBuffer>;
  sha256(data: Uint8Array | ArrayBuffer): Promise<ArrayBuffer>;
  hashByName(name: string, data: Uint8Array): Promise<ArrayBuffer>;
  hmacSha256(key: Uint8Array | ArrayBuffer, message: string): Promise<ArrayBuffer>;
  md5(text: string | Buffer): Promise<string>;
}
const pgOwn = createRequire(import.meta.url)("pg/lib/crypto/utils.js") as PgCrypto;

const hex = (b: ArrayBuffer | Uint8Array): string => Buffer.from(b as ArrayBuffer).toString("hex");

test("pgLazyCrypto gives node-postgres's bytes for every helper a login uses", async () => {
  const salt = Buffer.from("8f1c2a9b0d3e4f5a6b7c8d9e0f1a2b3c", "hex");
  for (const password of ["secret", "pässwörd with spaces", ""]) {
    for (const iterations of [1, 4096]) {
      assert.equal(
        hex(lazy.deriveKey(password, salt, iterations)),
        hex(await pgOwn.deriveKey(password, salt, iterations)),
        `deriveKey(${JSON.stringify(password)}, ${iterations})`,
      );
    }
  }
  const key = lazy.deriveKey("secret", salt, 4096);
  for (const message of ["Client Key", "Server Key", "n=*,r=abc,r=abcdef,s=c2FsdA==,i=4096,c=biws,r=abcdef"]) {
    assert.equal(hex(lazy.hmacSha256(key, message)), hex(await pgOwn.hmacSha256(key, message)), message);
  }
  assert.equal(hex(lazy.sha256(key)), hex(await pgOwn.sha256(key)));
  const cert = Buffer.from("a certificate's DER bytes stand-in");
  for (const name of ["SHA-256", "SHA-384", "SHA-512"]) {
    assert.equal(hex(lazy.hashByName(name, cert)), hex(await pgOwn.hashByName(name, cert)), name);
  }
  // Names pg's certificate parser can return that Web Crypto lacks (pg's own helper throws): Node has them.
  for (const [name, node] of [
    ["SHA-224", "sha224"],
    ["SHA512-224", "sha512-224"],
    ["SHA512-256", "sha512-256"],
  ] as const) {
    assert.equal(hex(lazy.hashByName(name, cert)), createHash(node).update(cert).digest("hex"), name);
  }
  assert.equal(lazy.md5("text"), await pgOwn.md5("text"));
  const md5Salt = Buffer.from([1, 2, 3, 4]);
  assert.equal(
    lazy.postgresMd5PasswordHash("parsl", "secret", md5Salt),
    await pgOwn.postgresMd5PasswordHash("parsl", "secret", md5Salt),
  );
  const nonce = lazy.randomBytes(18);
  assert.ok(Buffer.isBuffer(nonce) && nonce.length === 18);
  assert.notEqual(hex(nonce), hex(lazy.randomBytes(18)));
});

test("pgLazyCrypto loads node:crypto on first use, not when imported", () => {
  const script = `
    const before = process.moduleLoadList.includes("NativeModule crypto");
    const lazy = await import(${JSON.stringify(new URL("../src/database/postgres/pgLazyCrypto.js", import.meta.url).href)});
    const imported = process.moduleLoadList.includes("NativeModule crypto");
    lazy.randomBytes(4);
    console.log(JSON.stringify({ before, imported, used: process.moduleLoadList.includes("NativeModule crypto") }));`;
  const env = { ...process.env };
  delete env["NODE_EXTRA_CA_CERTS"]; // Node 20 loads crypto at start to read those certificates
  const out = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", env });
  assert.equal(out.status, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), { before: false, imported: false, used: true });
});
