/**
 * Build step after `tsc`: bundles the read commands (src/cli/readCommands.ts) and everything they
 * load, node-postgres included, into one file that takes the place of tsc's
 * dist/src/cli/readCommands.js. Node then reads and links one module instead of about seventy,
 * which is a fifth of `parsl-ts tasks`'s whole time on a PostgreSQL database.
 *
 * Two kinds of module stay outside the bundle:
 * - the leaf modules whose classes `parsl-ts` (main.ts) tests with `instanceof` (SHARED): the bundle
 *   imports the one compiled copy, so an error thrown in the bundle is the class main.ts knows;
 * - better-sqlite3, a native addon: required only when a SQLite database is opened, so a
 *   PostgreSQL command never loads it.
 * A module that finds files next to itself (`import.meta`) would look in the wrong folder from
 * the bundle, so one in the bundle fails the build.
 *
 * Two substitutions and one rewrite keep a command's start short (BENCHMARKS.md, issue 11):
 * - Node's own modules imported with `import` load through require(): an ESM import of node:fs
 *   reads every export, which loads fs/promises, readline and file watchers (3–4 ms on Node 24);
 * - node-postgres's crypto helpers are src/database/postgres/pgLazyCrypto.ts, which loads
 *   node:crypto on first use and logs in with synchronous crypto instead of Web Crypto;
 * and the file is written in ASCII (asciiOnly).
 *
 *   node dist/scripts/bundleCli.js        (run by `npm run build`)
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const ENTRY = path.join(ROOT, "src/cli/readCommands.ts");
const OUT_FILE = path.join(ROOT, "dist/src/cli/readCommands.js");

/** Sources the bundle imports from their compiled files instead of copying (see above). */
export const SHARED = ["src/cli/args.ts", "src/database/endpoint.ts", "src/database/errors.ts"].map((p) =>
  path.join(ROOT, p),
);

/** The import specifier, from the bundle's folder, of a source's compiled file. */
function compiledSpecifier(source: string): string {
  const compiled = path.join(ROOT, "dist", path.relative(ROOT, source)).replace(/\.ts$/, ".js");
  const rel = path.relative(path.dirname(OUT_FILE), compiled).split(path.sep).join("/");
  return rel.startsWith(".") ? rel : `./${rel}`;
}

const keepOutside: esbuild.Plugin = {
  name: "parsl-ts-keep-outside",
  setup(build) {
    build.onResolve({ filter: /^\.\.?\// }, (args) => {
      const source = path.resolve(args.resolveDir, args.path).replace(/\.js$/, ".ts");
      return SHARED.includes(source) ? { path: compiledSpecifier(source), external: true } : undefined;
    });
    // better-sqlite3 through a CommonJS stub: esbuild runs a CommonJS module's body when it is
    // first needed, whereas an ESM import of an external package is hoisted to the bundle's top.
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

/** Node's built-ins that our sources `import` come from require(), which reads no export until used. */
const builtinsThroughRequire: esbuild.Plugin = {
  name: "parsl-ts-builtins-through-require",
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) =>
      args.kind === "require-call" ? { path: args.path, external: true } : { path: args.path, namespace: "builtin" },
    );
    build.onLoad({ filter: /.*/, namespace: "builtin" }, (args) => ({
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

export async function bundleReadCommands(): Promise<{ inputs: number; bytes: number }> {
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    outfile: OUT_FILE,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "linked",
    metafile: true,
    write: false, // checked before it is written
    logLevel: "warning",
    // Optional drivers node-postgres loads only when asked for (pg.native) or on Cloudflare.
    external: ["pg-native", "pg-cloudflare"],
    plugins: [keepOutside, builtinsThroughRequire, pgCryptoOnFirstUse],
    // CommonJS code in the bundle (node-postgres) calls require() for Node's own modules.
    banner: {
      js: 'import { createRequire as __parslTsRequire } from "node:module";\nconst require = __parslTsRequire(import.meta.url);',
    },
  });
  const ours = Object.keys(result.metafile.inputs).filter((p) => p.startsWith("src/"));
  const located = ours.filter((p) => /\bimport\.meta\b/.test(fs.readFileSync(path.join(ROOT, p), "utf8")));
  if (located.length > 0) {
    throw new Error(
      `bundleCli: ${located.join(", ")} use import.meta, which would point at the bundle's folder; keep them out of readCommands.ts's imports`,
    );
  }
  for (const file of result.outputFiles) {
    fs.writeFileSync(file.path, file.path === OUT_FILE ? asciiOnly(file.text) : file.contents);
  }
  return { inputs: Object.keys(result.metafile.inputs).length, bytes: fs.statSync(OUT_FILE).size };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { inputs, bytes } = await bundleReadCommands();
  console.log(`bundleCli: ${inputs} modules → ${path.relative(ROOT, OUT_FILE)} (${(bytes / 1024).toFixed(0)} KiB)`);
}
