/**
 * Apps: `tsApp`, `bashApp` and `joinApp` turn a function into something that, when
 * called, returns an `AppFuture` at once and runs the body as a task of the loaded kernel.
 */
import { createHash } from "node:crypto";
import { definitionSite, sourceOrigin } from "./sourceOrigin.js";
import { AppDefinitionError } from "../errors.js";
import { Options } from "../validation.js";
import type { AppDefinition, AppKind } from "./definition.js";
import { currentKernel } from "./current.js";
import type { AppFuture, DataFuture } from "./futures.js";
import type { AutoLogname, File } from "./files.js";

/** A value, or a future of it: what an app accepts for each parameter. */
export type Arg<T> = T | AppFuture<T> | PromiseLike<T>;
export type Args<A extends readonly unknown[]> = { [K in keyof A]: Arg<A[K]> };

/** Where a bash app's stream goes: a path, `[path, mode]`, a `File`, `AUTO_LOGNAME`, or nothing. */
export type StreamSpec = string | File | AutoLogname | readonly [string, "w" | "a"] | null | undefined;

/** What the body sees as `this`. `I` types `this.inputs`. */
export interface TaskContext<I extends readonly unknown[] = unknown[]> {
  readonly taskId: number;
  readonly tryId: number;
  /** The call's `inputs`, with every future replaced by its value. */
  readonly inputs: I;
  /** The call's `outputs` as `File`s. */
  readonly outputs: readonly File[];
  /** Resolved paths of a bash app's streams. */
  readonly stdout: string | null;
  readonly stderr: string | null;
  readonly walltime: number | null;
  readonly resourceSpecification: Readonly<Record<string, unknown>>;
}

/** Per-call options: Parsl's special keyword arguments. */
export interface CallOptions<I extends readonly unknown[] = unknown[]> {
  inputs?: { [K in keyof I]: Arg<I[K]> | DataFuture };
  outputs?: ReadonlyArray<File | string>;
  stdout?: StreamSpec;
  stderr?: StreamSpec;
  stdin?: string | null;
  /** Seconds. */
  walltime?: number;
  resourceSpecification?: Record<string, unknown>;
}

export interface AppOptions {
  /** Recorded as `task_func_name`; defaults to the function's own name. */
  name?: string;
  /** Executor labels this app may run on, or "all" (the default). */
  executors?: readonly string[] | "all";
  /** Memoize: reuse the result of an earlier identical call. */
  cache?: boolean;
  /** Names of call options or parameters (`"inputs"`, `"stdout"`, or `"0"`, `"1"` for positions) left out of the hash. */
  ignoreForCache?: readonly string[];
}

/** Everything the kernel needs about an app. */
export interface AppSpec extends AppDefinition {
  readonly executors: readonly string[] | "all";
  readonly cache: boolean;
  readonly ignoreForCache: readonly string[];
  /** Join app: the body runs on the kernel's internal executor and returns futures to wait on. */
  readonly join: boolean;
}

/** The kernel's side of an app call. */
export interface Submitter {
  submit<R>(app: AppSpec, args: unknown[], options: CallOptions<readonly unknown[]>): AppFuture<R>;
}

export interface App<A extends readonly unknown[], R, I extends readonly unknown[] = unknown[]> {
  (...args: Args<A>): AppFuture<R>;
  /** Call with options: `app.with({ inputs, outputs, stdout, stderr, walltime, resourceSpecification })(...args)`. */
  with(options: CallOptions<I>): (...args: Args<A>) => AppFuture<R>;
  readonly spec: AppSpec;
  readonly appName: string;
}

const APP_OPTIONS = {
  known: ["name", "executors", "cache", "ignoreForCache"],
  elsewhere: {
    walltime: "it is a call option: app.with({ walltime })(…)",
    dataFlowKernel: "apps run on the loaded kernel (load(config))",
  },
  error: (field: string, problem: string) => new AppDefinitionError(`${field} ${problem}`),
} as const;

/** Any function at all (`never` parameters accept every signature); F keeps the user's own types. */
type AnyBody = (this: never, ...args: never[]) => unknown;
type InputsOf<F> = ThisParameterType<F> extends TaskContext<infer I> ? I : unknown[];
type JoinResult<T> = T extends AppFuture<infer X> ? X : T extends readonly AppFuture<infer X>[] ? X[] : never;

/** A TypeScript/JavaScript app. The future resolves to what the body returns (awaited). */
export function tsApp<F extends AnyBody>(
  fn: F,
  options?: AppOptions,
): App<Parameters<F>, Awaited<ReturnType<F>>, InputsOf<F>> {
  return makeApp(fn, "ts", false, options);
}

/**
 * A bash app: the body returns a command line, which runs in `/bin/bash -c` with the
 * call's `stdout`/`stderr`. The future resolves to the exit code 0; a non-zero exit fails the try.
 */
export function bashApp<F extends (this: never, ...args: never[]) => string | Promise<string>>(
  fn: F,
  options?: AppOptions,
): App<Parameters<F>, number, InputsOf<F>> {
  return makeApp(fn, "bash", false, options);
}

/**
 * A join app: the body runs in the kernel's process and returns a future (or an array of
 * futures) of other apps; the join app's future resolves when those do.
 */
export function joinApp<F extends AnyBody>(
  fn: F,
  options?: AppOptions,
): App<Parameters<F>, JoinResult<Awaited<ReturnType<F>>>, InputsOf<F>> {
  return makeApp(fn, "ts", true, options);
}

function makeApp<A extends readonly unknown[], R, I extends readonly unknown[]>(
  fn: unknown,
  kind: AppKind,
  join: boolean,
  options: AppOptions | undefined,
): App<A, R, I> {
  const what = join ? "joinApp" : kind === "bash" ? "bashApp" : "tsApp";
  if (typeof fn !== "function") {
    throw new AppDefinitionError(`${what} needs a function, got ${fn === null ? "null" : typeof fn}`);
  }
  const given = options !== null && typeof options === "object" ? (options as { name?: unknown }).name : undefined;
  const shown = typeof given === "string" && given !== "" ? given : fn.name;
  const o: Options = new Options({ ...APP_OPTIONS, kind: shown ? `${what}(${shown})` : what }, options);
  const name = o.check("name", fn.name, (n) => typeof n === "string" && n !== "", "a non-empty string");
  if (typeof name !== "string" || name.length === 0) {
    throw new AppDefinitionError(
      `${what}: the app has no name: give the function a name (\`function myApp() {…}\`) or pass { name: "myApp" }`,
    );
  }
  const executors = o.check<readonly string[] | "all">(
    "executors",
    "all",
    (e) => e === "all" || (Array.isArray(e) && e.every((l) => typeof l === "string")),
    '"all" or an array of executor labels',
  );
  const cache = o.boolean("cache", false);
  const ignoreForCache = o.check<readonly string[]>(
    "ignoreForCache",
    [],
    (x) => Array.isArray(x) && x.every((n) => typeof n === "string"),
    "an array of names",
  );
  const source = functionSource(fn as (...a: unknown[]) => unknown);
  const origin = source === null ? null : sourceOrigin(source, definitionSite(makeApp));
  const idText = (source ?? `native:${name}`) + (origin ? `\0${origin.file}:${origin.line}:${origin.column}` : "");
  const spec: AppSpec = Object.freeze({
    name,
    kind,
    fn: fn as (...args: unknown[]) => unknown,
    source,
    sourceId: createHash("md5").update(idText).digest("hex").slice(0, 16),
    origin,
    executors,
    cache,
    ignoreForCache,
    join,
  });
  const call = (options: CallOptions<readonly unknown[]>, args: unknown[]) =>
    currentKernel(name).submit(spec, args, options);
  const app = ((...args: unknown[]) => call({}, args)) as App<A, R, I>;
  Object.defineProperty(app, "name", { value: name });
  Object.defineProperties(app, {
    spec: { value: spec },
    appName: { value: name },
    with: {
      value: (opts: CallOptions<readonly unknown[]>) => {
        if (opts === null || typeof opts !== "object")
          throw new TypeError(`app '${name}': .with() needs an options object`);
        return (...args: unknown[]) => call(opts, args);
      },
    },
  });
  return app;
}

/** The source text a worker can compile, or null for functions that have none (native, bound). */
function functionSource(fn: (...a: unknown[]) => unknown): string | null {
  const src = Function.prototype.toString.call(fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(src)) return null;
  return src;
}
