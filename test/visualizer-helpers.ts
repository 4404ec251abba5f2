/** Shared helpers for the visualizer tests (real SQLite files in temp dirs, a real server). */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parslFixture, tempDir as sharedTempDir } from "./helpers.js";

const here = path.dirname(fileURLToPath(import.meta.url));
/** Repository root (tests run from dist/test/). */
export const ROOT = path.resolve(here, "..", "..");
/** The Python-Parsl fixture, test/fixtures/parsl-mixed/monitoring.db (see helpers.ts). */
export const FIXTURE_DB = parslFixture();

export const RUN1 = "1184f076-14a3-473a-9d16-bb9b165f62e9";
export const RUN2 = "ee786505-674c-4a3f-8d80-7eee11e68fc9";
export const RUN3 = "410b4fa3-e65b-4f17-99a5-099a7172c239";

export function tempDir(prefix = "viz-test-"): string {
  return sharedTempDir(prefix);
}

/** A private copy of the Python-Parsl fixture database. */
export function copyFixture(dir: string): string {
  const dest = path.join(dir, "monitoring.db");
  fs.copyFileSync(FIXTURE_DB, dest);
  return dest;
}

export function sha256(file: string): string {
  return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* keep text */ }
  return { status: res.status, body };
}

export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
