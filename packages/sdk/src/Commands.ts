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
import { HeyoClient, path } from "./HeyoClient.js"
import type * as HeyoError from "./HeyoError.js"
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
}

/** @since 0.1.0 */
export class Commands extends Context.Tag("@heyo-effect/sdk/Commands")<Commands, Service>() {}

/** @since 0.1.0 */
export const make: Effect.Effect<Service, never, HeyoClient> = Effect.map(HeyoClient, (client) =>
  commandsFrom((id, command, options) =>
    encode(HeyoExec.ExecRequest, new HeyoExec.ExecRequest({ command, cwd: options.cwd, env: options.env }, true)).pipe(
      Effect.flatMap((body) =>
        client.json(HeyoExec.ExecResponse, { method: "POST", path: path`/sandbox/${id}/exec`, body, timeout: options.timeout })
      )
    )
  ))

/** @since 0.1.0 */
export const layer: Layer.Layer<Commands, never, HeyoClient> = Layer.effect(Commands, make)

/** @since 0.1.0 */
export const run = (sandboxId: string, command: string, options?: RunOptions) =>
  Effect.flatMap(Commands, (c) => c.run(sandboxId, command, options))

/** @since 0.1.0 */
export const runOrFail = (sandboxId: string, command: string, options?: RunOptions) =>
  Effect.flatMap(Commands, (c) => c.runOrFail(sandboxId, command, options))
