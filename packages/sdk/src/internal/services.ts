/**
 * The parts of Commands and Files that do not depend on the transport: spans, defaults and
 * derived methods. The HTTP services and the in-memory fakes both build on these, so the two
 * can only differ in where the bytes go.
 */
import { HeyoExec, HeyoFiles, HeyoSandbox } from "@heyo-effect/protocol"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type * as Commands from "../Commands.js"
import type * as ExecEvent from "../ExecEvent.js"
import type * as Files from "../Files.js"
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

export type ExecStream = <E>(
  sandboxId: HeyoSandbox.SandboxId,
  command: string,
  options: Commands.StreamOptions<E>
) => Stream.Stream<ExecEvent.ExecEvent, Commands.StreamError | E>

export const commandsFrom = (exec: Exec, execStream: ExecStream): Commands.Service => {
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
  const stream = <E = never>(id: string, command: string, options?: Commands.StreamOptions<E>) =>
    execStream(sandboxId(id), command, options ?? {}).pipe(
      Stream.withSpan("Commands.stream", { attributes: { "sandbox.id": id }, captureStackTrace: false })
    )
  return { run, runOrFail, stream }
}

export interface FilesBackend {
  readonly read: (sandboxId: HeyoSandbox.SandboxId, path: string, mountPath: string) => Effect.Effect<Uint8Array, HeyoError.HttpError>
  readonly write: (
    sandboxId: HeyoSandbox.SandboxId,
    path: string,
    mountPath: string,
    content: Uint8Array
  ) => Effect.Effect<void, HeyoError.HttpError>
}

const encoder = new TextEncoder()

export const filesFrom = (backend: FilesBackend): Files.Service => {
  const read = Effect.fn("Files.read")(function*(id: string, path: string, options?: Files.FileOptions) {
    yield* Effect.annotateCurrentSpan("sandbox.id", id)
    return yield* backend.read(sandboxId(id), path, options?.mountPath ?? HeyoFiles.DefaultMountPath)
  })
  const readText = Effect.fn("Files.readText")(function*(id: string, path: string, options?: Files.FileOptions) {
    yield* Effect.annotateCurrentSpan("sandbox.id", id)
    return new TextDecoder().decode(yield* read(id, path, options))
  })
  const write = Effect.fn("Files.write")(
    function*(id: string, path: string, content: string | Uint8Array, options?: Files.FileOptions) {
      yield* Effect.annotateCurrentSpan("sandbox.id", id)
      const bytes = typeof content === "string" ? encoder.encode(content) : content
      return yield* backend.write(sandboxId(id), path, options?.mountPath ?? HeyoFiles.DefaultMountPath, bytes)
    }
  )
  return { read, readText, write }
}
