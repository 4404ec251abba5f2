/** Argument parsing for `parsl-ts visualize [DB] [--port N] [--listen ADDR]`. */
import { DEFAULT_DB } from "../database/endpoint.js";

export interface VisualizeArgs {
  db: string;
  port: number;
  listen: string;
  help: boolean;
}

export const USAGE = `usage: parsl-ts visualize [DB] [--port PORT] [--listen ADDRESS]

Serve a web view of a Parsl / parsl-ts monitoring database (opened read-only).

  DB               SQLite file or URL sqlite:///path, or postgresql://user:pass@host:port/db
                   (default ${DEFAULT_DB}); PostgreSQL needs only SELECT (sessions are read-only)
  -p, --port PORT  TCP port (default 8080; 0 picks a free port)
  -l, --listen ADDRESS
                   address to bind (default 127.0.0.1; use 0.0.0.0 to expose it)
  -h, --help       show this help`;

export function parseVisualizeArgs(argv: readonly string[]): VisualizeArgs {
  const out: VisualizeArgs = { db: DEFAULT_DB, port: 8080, listen: "127.0.0.1", help: false };
  let dbSeen = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith("--") && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new Error(`option ${name} needs a value`);
      return v;
    };
    switch (name) {
      case "-h":
      case "--help":
        out.help = true;
        break;
      case "-p":
      case "--port": {
        const v = value();
        if (!/^\d{1,5}$/.test(v) || Number(v) > 65535)
          throw new Error(`--port must be an integer from 0 to 65535, got ${JSON.stringify(v)}`);
        out.port = Number(v);
        break;
      }
      case "-l":
      case "--listen": {
        const v = value();
        if (v.trim() === "") throw new Error("--listen needs an address");
        out.listen = v;
        break;
      }
      default:
        if (arg.startsWith("-")) throw new Error(`unknown option ${arg}`);
        if (dbSeen)
          throw new Error(`only one database may be given (got ${JSON.stringify(out.db)} and ${JSON.stringify(arg)})`);
        out.db = arg;
        dbSeen = true;
    }
  }
  return out;
}
