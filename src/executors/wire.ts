/** Converting a try's options into plain data for executors that run bodies elsewhere. */
import type { WireOptions } from "../apps/runtime.js";
import type { InvocationOptions } from "./base.js";
import { File } from "../apps/files.js";

export function optionsToWire(o: InvocationOptions): WireOptions {
  return {
    inputs: o.inputs as unknown[],
    outputUrls: o.outputs.map((f) => (f instanceof File ? f.url : String(f))),
    stdout: o.stdout,
    stderr: o.stderr,
    walltime: o.walltime,
    resourceSpecification: o.resourceSpecification,
  };
}
