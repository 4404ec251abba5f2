/**
 * The package as a user installs it: `npm pack`, unpacked into a fresh ESM TypeScript project
 * that has only `typescript`, where a strict `tsc` must compile every TypeScript example of the
 * README and docs as written (no @types/node, no skipLibCheck).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "./helpers.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const DOCS = [
  "README.md",
  ...fs
    .readdirSync(path.join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

/** The ```ts blocks of a Markdown file. */
function tsBlocks(file: string): string[] {
  return [...fs.readFileSync(path.join(ROOT, file), "utf8").matchAll(/^```ts\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
}

interface PackResult {
  filename: string;
  files: { path: string }[];
}

/** `npm pack` of the working tree (dist/ as built) into a temp dir, once per test file. */
let packed: { tarball: string; files: string[] } | null = null;
function pack(): { tarball: string; files: string[] } {
  if (packed) return packed;
  const dir = tempDir("parsl-ts-pack-");
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", dir], {
    cwd: ROOT,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const [result] = JSON.parse(out) as PackResult[];
  packed = { tarball: path.join(dir, result!.filename), files: result!.files.map((f) => f.path) };
  return packed;
}

test("the tarball carries the built code, docs, LICENSE and README, and no tests or sources", () => {
  const { files } = pack();
  for (const f of [
    "LICENSE",
    "README.md",
    "package.json",
    "dist/src/index.js",
    "dist/src/index.d.ts",
    "dist/src/visualizer/index.d.ts",
    ...DOCS,
  ]) {
    assert.ok(files.includes(f), `the tarball lacks ${f}`);
  }
  assert.deepEqual(
    files.filter((f) => f.startsWith("dist/test/") || f.startsWith("src/") || f.startsWith("test/")),
    [],
  );
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
    repository?: { url?: string };
    license?: string;
  };
  assert.match(pkg.repository?.url ?? "", /^git\+https:\/\//);
  assert.equal(pkg.license, "Apache-2.0");
  assert.match(fs.readFileSync(path.join(ROOT, "LICENSE"), "utf8"), /Apache License\s+Version 2\.0/);
});

test("the README and docs import only package entry points, and the README says how to install", () => {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  assert.match(readme, /^## Install$/m);
  assert.match(readme, /npm install parsl-ts/);
  for (const file of DOCS) {
    const text = fs.readFileSync(path.join(ROOT, file), "utf8");
    assert.doesNotMatch(
      text,
      /parsl-ts\/dist\//,
      `${file} imports a file inside the package instead of an entry point`,
    );
  }
});

test("a strict tsc in a project with only typescript compiles every TypeScript example of the README and docs", () => {
  const { tarball } = pack();
  const project = tempDir("parsl-ts-consumer-");
  // Unpacked where `npm install <tarball>` puts it. npm would also fetch better-sqlite3, which
  // the type check does not need (the declarations must not refer to it), and which is not in
  // npm's offline cache here; typescript is this repository's copy.
  const installed = path.join(project, "node_modules", "parsl-ts");
  fs.mkdirSync(installed, { recursive: true });
  execFileSync("tar", ["xzf", tarball, "-C", installed, "--strip-components=1"]);
  fs.symlinkSync(
    path.join(ROOT, "node_modules", "typescript"),
    path.join(project, "node_modules", "typescript"),
    "dir",
  );
  fs.writeFileSync(
    path.join(project, "package.json"),
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  // The settings the README's Install section asks for, and nothing else.
  fs.writeFileSync(
    path.join(project, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        types: [],
      },
      include: ["*.ts"],
    }),
  );
  let n = 0;
  for (const file of DOCS)
    for (const block of tsBlocks(file))
      fs.writeFileSync(path.join(project, `example${++n}.ts`), `// ${file}\n${block}`);
  assert.ok(n >= 4, `only ${n} TypeScript examples found`);
  const tsc = spawnSync(
    process.execPath,
    [path.join(project, "node_modules", "typescript", "bin", "tsc"), "-p", project],
    { cwd: project, encoding: "utf8" },
  );
  assert.equal(tsc.status, 0, `tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  // Every entry point resolves at run time too (the "import" condition Node uses).
  const pkg = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8")) as {
    exports: Record<string, unknown>;
  };
  for (const sub of Object.keys(pkg.exports)) {
    const spec = sub === "." ? "parsl-ts" : `parsl-ts/${sub.slice(2)}`;
    const r = spawnSync(
      process.execPath,
      ["--input-type=module", "-e", `console.log(import.meta.resolve(${JSON.stringify(spec)}))`],
      { cwd: project, encoding: "utf8" },
    );
    assert.equal(r.status, 0, `${spec}: ${r.stderr}`);
    assert.ok(fs.existsSync(fileURLToPath(r.stdout.trim())), `${spec} resolves to a missing file ${r.stdout}`);
  }
});

test("the packed `parsl-ts` executable runs from an unpacked package: its read commands carry node-postgres with them", () => {
  const { tarball } = pack();
  const installed = path.join(tempDir("parsl-ts-bin-"), "node_modules", "parsl-ts");
  fs.mkdirSync(installed, { recursive: true });
  execFileSync("tar", ["xzf", tarball, "-C", installed, "--strip-components=1"]);
  const pkg = JSON.parse(fs.readFileSync(path.join(installed, "package.json"), "utf8")) as {
    version: string;
    bin: Record<string, string>;
  };
  const bin = path.join(installed, pkg.bin["parsl-ts"]!);
  assert.ok(fs.existsSync(bin), `package.json's bin ${pkg.bin["parsl-ts"]} is not in the tarball`);
  const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
  const version = run(["--version"]);
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout.trim(), `parsl-ts ${pkg.version}`);
  // No node_modules beside the package: a PostgreSQL read command still gets as far as connecting.
  const refused = run(["tasks", "--db", "postgresql://me:secret@127.0.0.1:1/parsl"]);
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /^parsl-ts tasks: cannot connect to PostgreSQL at postgresql:\/\/me:\*\*\*@127\.0\.0\.1:1\/parsl/,
  );
});
