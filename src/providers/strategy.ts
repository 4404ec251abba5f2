/**
 * Scaling decisions, as Parsl's strategies make them, as a pure function of the executor's state.
 *  - none: only the initial blocks; nothing else is started or stopped by the strategy.
 *  - simple: scale out to cover outstanding tries (times parallelism); when nothing is
 *    outstanding for maxIdletime, scale in to minBlocks.
 *  - htex_auto_scale: like simple, but also scales in individual idle blocks (no tries on
 *    them for maxIdletime) while other work continues, down to what the load needs.
 */
export type StrategyName = "none" | "simple" | "htex_auto_scale";
export const STRATEGIES: readonly StrategyName[] = ["none", "simple", "htex_auto_scale"];

export interface BlockView {
  blockId: string;
  /** Tries currently on this block's pools. */
  busy: number;
  /** ms timestamp since when the block has had no tries (or its launch time). */
  idleSince: number;
}

export interface StrategyInput {
  strategy: StrategyName;
  outstanding: number;
  /** Blocks pending or running (not terminal, not being scaled in). */
  blocks: readonly BlockView[];
  slotsPerBlock: number;
  minBlocks: number;
  maxBlocks: number;
  parallelism: number;
  /** seconds */
  maxIdletime: number;
  /** ms timestamp since when nothing has been outstanding, or null if work is outstanding. */
  allIdleSince: number | null;
  now: number;
}

export interface StrategyDecision {
  scaleOut: number;
  scaleIn: string[];
}

export function decide(i: StrategyInput): StrategyDecision {
  const none: StrategyDecision = { scaleOut: 0, scaleIn: [] };
  if (i.strategy === "none") return none;
  const active = i.blocks.length;
  const idleLimit = i.maxIdletime * 1000;
  if (i.outstanding === 0) {
    if (active > i.minBlocks && i.allIdleSince !== null && i.now - i.allIdleSince >= idleLimit) {
      const victims = [...i.blocks].sort((a, b) => a.idleSince - b.idleSince).slice(0, active - i.minBlocks);
      return { scaleOut: 0, scaleIn: victims.map((b) => b.blockId) };
    }
    return active < i.minBlocks ? { scaleOut: i.minBlocks - active, scaleIn: [] } : none;
  }
  const slots = Math.max(1, i.slotsPerBlock);
  const wanted = Math.ceil((i.outstanding * i.parallelism) / slots);
  const required = Math.min(i.maxBlocks, Math.max(i.minBlocks, wanted));
  if (required > active) return { scaleOut: required - active, scaleIn: [] };
  if (i.strategy === "htex_auto_scale" && active > Math.max(required, i.minBlocks)) {
    const spare = active - Math.max(required, i.minBlocks);
    const idle = i.blocks.filter((b) => b.busy === 0 && i.now - b.idleSince >= idleLimit).slice(0, spare);
    return { scaleOut: 0, scaleIn: idle.map((b) => b.blockId) };
  }
  return none;
}
