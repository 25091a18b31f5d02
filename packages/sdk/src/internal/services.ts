/**
 * The parts of Commands that do not depend on the transport (Files: fsService.ts): spans, defaults and
 * derived methods. The HTTP services and the in-memory fakes both build on these, so the two
 * can only differ in where the bytes go.
 */
import { HeyoExec, HeyoSandbox } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Commands from "../Commands.js"
import type * as ExecEvent from "../ExecEvent.js"
import type { ExecSession } from "../ExecSession.js"
import type { Process } from "../Process.js"
import * as HeyoError from "../HeyoError.js"
import { describeIssues } from "./http.js"

export const sandboxId = (id: string): HeyoSandbox.SandboxId => HeyoSandbox.SandboxId.make(id)

/** Encodes a request body through its protocol schema; a value it rejects never leaves the client. */
export const encode = <A, I>(schema: Schema.Schema<A, I>, value: A): Effect.Effect<I, HeyoError.InvalidArgument> =>
  Schema.encode(schema)(value).pipe(
    Effect.mapError((e) => new HeyoError.InvalidArgument({ message: `invalid argument: ${describeIssues(e)}` }))
  )

export type Exec = (
  sandboxId: HeyoSandbox.SandboxId,
  command: string,
  options: Commands.RunOptions
) => Effect.Effect<HeyoExec.ExecResponse, HeyoError.HttpError>

/** Everything Commands does beyond `run`, by transport (heyod's exec routes, or memory). */
export interface ExecBackend {
  readonly stream: <E>(
    sandboxId: HeyoSandbox.SandboxId,
    command: string,
    options: Commands.StreamOptions<E>
  ) => Stream.Stream<ExecEvent.ExecEvent, Commands.StreamError | E>
  readonly spawn: (
    sandboxId: HeyoSandbox.SandboxId,
    command: string,
    options: Commands.SpawnOptions
  ) => Effect.Effect<Process, Commands.StreamError, Scope.Scope>
  readonly sessions: (sandboxId: HeyoSandbox.SandboxId) => Effect.Effect<ReadonlyArray<ExecSession>, Commands.StreamError>
  readonly attach: (
    sandboxId: HeyoSandbox.SandboxId,
    sessionId: string,
    options: Commands.AttachOptions
  ) => Stream.Stream<ExecEvent.ExecEvent, Commands.StreamError>
  readonly kill: (
    sandboxId: HeyoSandbox.SandboxId,
    sessionId: string,
    options: Commands.KillOptions
  ) => Effect.Effect<Option.Option<number>, Commands.StreamError>
}

export const commandsFrom = (exec: Exec, backend: ExecBackend): Commands.Service => {
  const run = Effect.fn("Commands.run")(function*(id: string, command: string, options?: Commands.RunOptions) {
    yield* Effect.annotateCurrentSpan("sandbox.id", id)
    return yield* exec(sandboxId(id), command, options ?? {})
  })
  const runOrFail = Effect.fn("Commands.runOrFail")(function*(id: string, command: string, options?: Commands.RunOptions) {
    yield* Effect.annotateCurrentSpan("sandbox.id", id)
    const result = yield* run(id, command, options)
    if (result.exitCode !== 0) {
      return yield* new HeyoError.CommandFailed({
        sandboxId: id,
        command,
        exitCode: result.exitCode,
        stdout: result.stdout,
        stderr: result.stderr
      })
    }
    return result
  })
  const span = (name: string, id: string) =>
    ({ attributes: { "sandbox.id": id }, captureStackTrace: false }) as const
  const stream = <E = never>(id: string, command: string, options?: Commands.StreamOptions<E>) =>
    backend.stream(sandboxId(id), command, options ?? {}).pipe(Stream.withSpan("Commands.stream", span("stream", id)))
  const spawn = Effect.fn("Commands.spawn")(function*(id: string, command: string, options?: Commands.SpawnOptions) {
    yield* Effect.annotateCurrentSpan("sandbox.id", id)
    return yield* backend.spawn(sandboxId(id), command, options ?? {})
  })
  const sessions = Effect.fn("Commands.sessions")(function*(id: string) {
    yield* Effect.annotateCurrentSpan("sandbox.id", id)
    return yield* backend.sessions(sandboxId(id))
  })
  const attach = (id: string, sessionId: string, options?: Commands.AttachOptions) =>
    backend.attach(sandboxId(id), sessionId, options ?? {}).pipe(Stream.withSpan("Commands.attach", span("attach", id)))
  const kill = Effect.fn("Commands.kill")(function*(id: string, sessionId: string, options?: Commands.KillOptions) {
    yield* Effect.annotateCurrentSpan("sandbox.id", id)
    return yield* backend.kill(sandboxId(id), sessionId, options ?? {})
  })
  return { run, runOrFail, stream, spawn, sessions, attach, kill }
}
