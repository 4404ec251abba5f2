/**
 * The loaded kernel, for apps to submit to. Kept in its own module so that apps do not
 * import the kernel (and the kernel can import apps' types without a cycle).
 */
import { NoDataFlowKernelError } from "../errors.js";
import type { Submitter } from "./app.js";

let current: Submitter | null = null;

export function setCurrentKernel(k: Submitter | null): void {
  current = k;
}

export function currentKernel(appName: string): Submitter {
  if (!current) {
    throw new NoDataFlowKernelError(
      `app '${appName}' was called but no DataFlowKernel is loaded: call \`await load(config)\` first`,
    );
  }
  return current;
}

export function hasCurrentKernel(): boolean {
  return current !== null;
}
