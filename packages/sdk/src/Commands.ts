/**
 * One-shot commands in a sandbox: `POST /sandbox/:id/exec`, run with `sh -c`.
 *
 * A non-zero exit code is a value (`CommandResult.exitCode`), not a failure; `runOrFail` is the
 * opt-in variant that fails with `CommandFailed`.
 *
 * @since 0.1.0
 */
import { HeyoExec } from "@heyo-effect/protocol"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type * as ExecEvent from "./ExecEvent.js"
import { HeyoClient, path } from "./HeyoClient.js"
import type * as HeyoError from "./HeyoError.js"
import * as ExecStream from "./internal/execStream.js"
import { commandsFrom, encode } from "./internal/services.js"

/**
 * `{ stdout, stderr, output, exitCode }`; `output` is stdout and stderr combined as the backend
 * reports them (some backends put everything in stdout).
 *
 * @since 0.1.0
 */
export const CommandResult = HeyoExec.ExecResponse
/** @since 0.1.0 */
export type CommandResult = HeyoExec.ExecResponse

/** @since 0.1.0 */
export interface RunOptions {
  readonly cwd?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  /**
   * Client-side deadline for this call only (default: the client's timeout). It never reaches
   * the sandbox: the command may keep running after the SDK gave up.
   */
  readonly timeout?: Duration.DurationInput | undefined
}

/** @since 0.1.0 */
export interface StreamOptions<E = never> {
  /** Positional parameters `$1...` of the `sh -c` script. */
  readonly args?: ReadonlyArray<string> | undefined
  readonly cwd?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  /**
   * The command's stdin, sent as it is pulled (at the socket's pace), then EOF. Without it the
   * command's stdin is closed. Its failure fails the stream.
   */
  readonly stdin?: Stream.Stream<Uint8Array, E> | undefined
}

/** What `stream` can fail with: any call's errors, or a server without streaming exec. @since 0.1.0 */
export type StreamError = HeyoError.HttpError | HeyoError.Unsupported

/** @since 0.1.0 */
export interface Service {
  readonly run: (
    sandboxId: string,
    command: string,
    options?: RunOptions | undefined
  ) => Effect.Effect<CommandResult, HeyoError.HttpError>
  /** Like `run`, but a non-zero exit code fails with `CommandFailed`. */
  readonly runOrFail: (
    sandboxId: string,
    command: string,
    options?: RunOptions | undefined
  ) => Effect.Effect<CommandResult, HeyoError.HttpError | HeyoError.CommandFailed>
  /**
   * Runs `sh -c command` and streams its output as it comes: Stdout and Stderr chunks, then one
   * Exit. Memory stays bounded whatever the output size: a slow consumer slows the command.
   * Interrupting the consumer closes the socket, which kills the command's process group.
   * Needs a server with the `exec-stream` extension (heyod); others fail with Unsupported.
   */
  readonly stream: <E = never>(
    sandboxId: string,
    command: string,
    options?: StreamOptions<E> | undefined
  ) => Stream.Stream<ExecEvent.ExecEvent, StreamError | E>
}

/** @since 0.1.0 */
export class Commands extends Context.Tag("@heyo-effect/sdk/Commands")<Commands, Service>() {}

/** @since 0.1.0 */
export const make: Effect.Effect<Service, never, HeyoClient> = Effect.map(HeyoClient, (client) =>
  commandsFrom(
    (id, command, options) =>
      encode(HeyoExec.ExecRequest, new HeyoExec.ExecRequest({ command, cwd: options.cwd, env: options.env }, true)).pipe(
        Effect.flatMap((body) =>
          client.json(HeyoExec.ExecResponse, { method: "POST", path: path`/sandbox/${id}/exec`, body, timeout: options.timeout })
        )
      ),
    // The Sprites-dialect route on the same server, addressed by sandbox id (DESIGN.md).
    <E>(id: string, command: string, options: StreamOptions<E>) =>
      Effect.gen(function*() {
        yield* client.requireFeature("exec-stream")
        const route = path`/v1/sprites/${id}/exec`
        const query: Array<readonly [string, string]> = [["cmd", "sh"], ["cmd", "-c"], ["cmd", command], ["cmd", "sh"]]
        for (const arg of options.args ?? []) query.push(["cmd", arg])
        query.push(["path", "sh"])
        if (options.cwd !== undefined) query.push(["dir", options.cwd])
        for (const [key, value] of Object.entries(options.env ?? {})) query.push(["env", `${key}=${value}`])
        query.push(["stdin", options.stdin === undefined ? "false" : "true"])
        const connection = yield* client.webSocket({ path: route, query })
        return ExecStream.events(connection, `WSS ${route}`, options.stdin)
      }).pipe(Stream.unwrapScoped)
  ))

/** @since 0.1.0 */
export const layer: Layer.Layer<Commands, never, HeyoClient> = Layer.effect(Commands, make)

/** @since 0.1.0 */
export const run = (sandboxId: string, command: string, options?: RunOptions) =>
  Effect.flatMap(Commands, (c) => c.run(sandboxId, command, options))

/** @since 0.1.0 */
export const runOrFail = (sandboxId: string, command: string, options?: RunOptions) =>
  Effect.flatMap(Commands, (c) => c.runOrFail(sandboxId, command, options))

/** @since 0.1.0 */
export const stream = <E = never>(sandboxId: string, command: string, options?: StreamOptions<E>) =>
  Stream.unwrap(Effect.map(Commands, (c) => c.stream(sandboxId, command, options)))
