/** Chooses the MonitoringReader for a DB argument (the seam where PostgreSQL would plug in). */
import { parseEndpoint } from "../database/endpoint.js";
import type { MonitoringReader } from "./reader.js";
import { SqliteReader } from "./sqlite-reader.js";

export function openReader(db: string): MonitoringReader {
  const target = parseEndpoint(db);
  switch (target.kind) {
    case "sqlite":
      return new SqliteReader(target.path);
    case "postgresql":
      throw new Error("PostgreSQL monitoring databases are not supported by this build yet " +
        "(the reader interface in src/visualizer/reader.ts is the place to add one)");
  }
}
