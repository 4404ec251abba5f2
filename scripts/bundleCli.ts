/**
 * Build step after `tsc`: writes the `parsl-ts` executable. `dist/src/cli/parsl-ts.cjs` turns on
 * Node's compile cache and runs `dist/src/cli/cli.cjs`, one CommonJS bundle of the command
 * (src/cli/main.ts) with the read commands (readCommands.ts: runs, tasks, stats, analyze, watch)
 * and everything they load, node-postgres included. Node then reads one file instead of linking
 * about ninety modules, and on Node 20 never starts its ES module loader (10–15 ms) for them:
 * together about a quarter of `parsl-ts tasks`'s time on a PostgreSQL database, on Node 20
 * (BENCHMARKS.md).
 *
 * Outside the bundle:
 * - the other commands (perf, worker-pool, db, export, report, visualize): main.ts imports their
 *   compiled modules from dist/src/cli/'s neighbours when one is asked for. They throw their own
 *   copies of the error classes, which is why main.ts maps errors to exit statuses by name;
 * - better-sqlite3, a native addon: required only when a SQLite database is opened, so a
 *   PostgreSQL command never loads it.
 * The bundle is written to dist/src/cli/, where tsc writes main.js: a module of src/cli/ may find
 * files next to itself (`import.meta.url`), one elsewhere would look in the wrong folder, so the
 * build fails on one.
 *
 * Two more things keep a command's start short:
 * - node-postgres's crypto helpers are src/database/postgres/pgLazyCrypto.ts, which loads
 *   node:crypto on first use and logs in with synchronous crypto instead of Web Crypto;
 * - the file is written in ASCII (asciiOnly).
 *
 *   node dist/scripts/bundleCli.js        (run by `npm run build`)
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const ENTRY = path.join(ROOT, "src/cli/main.ts");
const CLI_DIR = path.join(ROOT, "dist/src/cli");
export const BUNDLE_FILE = path.join(CLI_DIR, "cli.cjs");
export const EXECUTABLE_FILE = path.join(CLI_DIR, "parsl-ts.cjs");

/** The modules main.ts loads for each command that are bundled; every other command stays outside. */
const BUNDLED_COMMANDS = new Set([path.join(ROOT, "src/cli/readCommands.ts")]);

/** The executable: the compile cache (Node >= 22.1) must be on before the bundle is compiled. */
const EXECUTABLE = `#!/usr/bin/env node
// parsl-ts: written by scripts/bundleCli.ts. Node >= 22.1 keeps the bundle's compiled code between
// runs (in the OS temp directory); Node 20 has no such cache and goes on without it.
"use strict";
require("node:module").enableCompileCache?.();
require("./cli.cjs");
`;

const keepOutside: esbuild.Plugin = {
  name: "parsl-ts-keep-outside",
  setup(build) {
    build.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (args.kind !== "dynamic-import" || args.importer !== ENTRY) return undefined;
      const source = path.resolve(args.resolveDir, args.path).replace(/\.js$/, ".ts");
      return BUNDLED_COMMANDS.has(source) ? undefined : { path: args.path, external: true };
    });
    // better-sqlite3 through a CommonJS stub: esbuild runs a CommonJS module's body when it is
    // first needed, whereas an import of an external package would be required at the bundle's top.
    build.onResolve({ filter: /^better-sqlite3$/ }, (args) =>
      args.namespace === "lazy-native"
        ? { path: args.path, external: true }
        : { path: args.path, namespace: "lazy-native" },
    );
    build.onLoad({ filter: /.*/, namespace: "lazy-native" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};

/** The file node-postgres's client and SCRAM code require for their crypto. */
const PG_CRYPTO = /[\\/]node_modules[\\/]pg[\\/]lib[\\/]crypto[\\/]utils\.js$/;
export const PG_CRYPTO_REPLACEMENT = path.join(ROOT, "src/database/postgres/pgLazyCrypto.ts");

const pgCryptoOnFirstUse: esbuild.Plugin = {
  name: "parsl-ts-pg-crypto-on-first-use",
  setup(build) {
    let replaced = false;
    build.onResolve({ filter: /[\\/]utils(\.js)?$/ }, (args) => {
      const target = path.resolve(args.resolveDir, args.path.endsWith(".js") ? args.path : `${args.path}.js`);
      if (!PG_CRYPTO.test(target)) return undefined;
      replaced = true;
      return { path: PG_CRYPTO_REPLACEMENT };
    });
    // A node-postgres that moved its crypto elsewhere would silently keep its own: fail instead.
    build.onEnd((result) => {
      if (!replaced && result.errors.length === 0) {
        result.errors.push({
          id: "",
          pluginName: "parsl-ts-pg-crypto-on-first-use",
          text: "node-postgres no longer requires lib/crypto/utils.js: update scripts/bundleCli.ts's substitution",
          location: null,
          notes: [],
          detail: undefined,
        });
      }
    });
  },
};

/**
 * The bundle in ASCII: esbuild escapes strings, templates and regular expressions itself but keeps
 * comments as written, and one "→" in a comment makes Node decode the whole file as UTF-8 into a
 * two-byte string (4–5 ms of every start on Node 24). A `\u` escape means the same character in a
 * literal and is plain text in a comment.
 */
export function asciiOnly(code: string): string {
  return code.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export async function bundleCli(): Promise<{ inputs: number; bytes: number }> {
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    outfile: BUNDLE_FILE,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    sourcemap: "linked",
    metafile: true,
    write: false, // checked before it is written
    logLevel: "warning",
    // Optional drivers node-postgres loads only when asked for (pg.native) or on Cloudflare.
    external: ["pg-native", "pg-cloudflare"],
    plugins: [keepOutside, pgCryptoOnFirstUse],
    // CommonJS has no import.meta: the bundle's own URL stands in (it sits where main.js does).
    define: { "import.meta.url": "__parslTsBundleUrl" },
    banner: { js: 'const __parslTsBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  });
  const outside = Object.keys(result.metafile.inputs).filter((p) => p.startsWith("src/") && !p.startsWith("src/cli/"));
  const located = outside.filter((p) => /\bimport\.meta\b/.test(fs.readFileSync(path.join(ROOT, p), "utf8")));
  if (located.length > 0) {
    throw new Error(
      `bundleCli: ${located.join(", ")} use import.meta, which would point at the bundle's folder (dist/src/cli/); keep them out of the read commands' imports`,
    );
  }
  for (const file of result.outputFiles) {
    fs.writeFileSync(file.path, file.path === BUNDLE_FILE ? asciiOnly(file.text) : file.contents);
  }
  fs.writeFileSync(EXECUTABLE_FILE, EXECUTABLE);
  fs.chmodSync(EXECUTABLE_FILE, 0o755);
  return { inputs: Object.keys(result.metafile.inputs).length, bytes: fs.statSync(BUNDLE_FILE).size };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { inputs, bytes } = await bundleCli();
  console.log(`bundleCli: ${inputs} modules → ${path.relative(ROOT, BUNDLE_FILE)} (${(bytes / 1024).toFixed(0)} KiB)`);
}
