// ESLint flat config: typescript-eslint's type-aware rules over everything tsconfig.json compiles
// (src/, test/, bench/, examples/). Formatting is Prettier's job (.prettierrc.json), not ESLint's.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["dist/", "node_modules/", ".ci/cache/", "coverage/"] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          // node:test's test()/describe() return promises that the runner itself awaits.
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["test", "it", "describe", "suite"] },
          ],
        },
      ],
      "@typescript-eslint/no-unused-vars": [
        "error",
        // A leading underscore marks a parameter or binding kept on purpose (a signature, a rest split).
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_", ignoreRestSiblings: true },
      ],
      // `typeof import("node:fs")` stays allowed: app bodies shipped to workers cannot use top-level imports.
      "@typescript-eslint/consistent-type-imports": ["error", { disallowTypeAnnotations: false }],
      // A switch over a union must name every member, unless it has a default branch on purpose.
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
      // `async` with no `await` is deliberate here: it implements an async interface with a synchronous
      // body (SQLite connection, local provider) so that a throw becomes a rejection, and declares async apps.
      "@typescript-eslint/require-await": "off",
      // SQL cells arrive typed `unknown` but are primitives (text, number, bigint); String(cell) is how
      // the readers turn them into text. Template literals of `unknown` stay checked (restrict-template-expressions).
      "@typescript-eslint/no-base-to-string": "off",
    },
  },
  {
    // Tests and benchmark probes read untyped JSON bodies and SQL rows and reach into internals on purpose;
    // their assertions check the shapes. src/ and examples/ keep these rules.
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
    },
  },
  {
    // Plain JS outside tsconfig.json (this file, scripts/): lint it without type information.
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
    extends: [tseslint.configs.disableTypeChecked],
  },
);
