/**
 * Streamed commands, spawned processes and sessions for `Testing.layer`, all answered by the
 * user's command handler: a command's stdin is read to its end (EOF) first, then its answer is
 * its whole output and exit code. Every spawn is kept as a session, so `sessions`, `attach` (with
 * offsets) and `kill` behave as against a server.
 */
import { HeyoSandbox } from "@heyo-effect/protocol"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as os from "node:os"
import type * as Commands from "../Commands.js"
import * as ExecEvent from "../ExecEvent.js"
import { ExecSession } from "../ExecSession.js"
import * as HeyoError from "../HeyoError.js"
import type { Process } from "../Process.js"
import type { ExecBackend } from "./services.js"

export type Answer = (
  id: HeyoSandbox.SandboxId,
  command: string,
  options: Commands.RunOptions,
  streamed: { readonly stdin?: Uint8Array | undefined; readonly args?: ReadonlyArray<string> | undefined }
) => Effect.Effect<Commands.CommandResult, HeyoError.HttpError>

const encoder = new TextEncoder()

const concat = (chunks: ReadonlyArray<Uint8Array>) => {
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0))
  let at = 0
  for (const chunk of chunks) {
    all.set(chunk, at)
    at += chunk.byteLength
  }
  return all
}

/** At most one Stdout, one Stderr, then the Exit (its code wrapped to a byte, as on the wire). */
const eventsOf = (result: Commands.CommandResult): ReadonlyArray<ExecEvent.ExecEvent> => {
  const events: Array<ExecEvent.ExecEvent> = []
  if (result.stdout !== "") events.push(ExecEvent.Stdout({ data: encoder.encode(result.stdout) }))
  if (result.stderr !== "") events.push(ExecEvent.Stderr({ data: encoder.encode(result.stderr) }))
  events.push(ExecEvent.Exit({ exitCode: result.exitCode & 0xff }))
  return events
}

interface MemorySession {
  readonly sandboxId: string
  readonly id: string
  readonly command: string
  readonly created: Date
  readonly tty: boolean
  readonly done: Deferred.Deferred<ReadonlyArray<ExecEvent.ExecEvent>, HeyoError.HttpError>
  attached: number
}

const signalNumber = (name: string) => {
  const upper = name.toUpperCase()
  return os.constants.signals[(upper.startsWith("SIG") ? upper : `SIG${upper}`) as NodeJS.Signals] ?? 15
}

export const makeMemoryExec = (answer: Answer): ExecBackend => {
  const sessions: Array<MemorySession> = []
  let counter = 0

  const stream = <E>(id: HeyoSandbox.SandboxId, command: string, o: Commands.StreamOptions<E>) =>
    Effect.gen(function*() {
      const stdin = o.stdin === undefined ? undefined : concat(yield* Stream.runCollect(o.stdin).pipe(Effect.map((c) => [...c])))
      const result = yield* answer(id, command, { cwd: o.cwd, env: o.env }, { stdin, args: o.args })
      return Stream.fromIterable(eventsOf(result))
    }).pipe(Stream.unwrap)

  const spawn = (id: HeyoSandbox.SandboxId, command: string, o: Commands.SpawnOptions) =>
    Effect.gen(function*() {
      const session: MemorySession = {
        sandboxId: id,
        id: `mem-${++counter}`,
        command,
        created: new Date(yield* Clock.currentTimeMillis),
        tty: o.tty !== undefined && o.tty !== false,
        done: yield* Deferred.make<ReadonlyArray<ExecEvent.ExecEvent>, HeyoError.HttpError>(),
        attached: 1
      }
      // Checked like the server checks it: an unknown or stopped sandbox fails the spawn.
      const input: Array<Uint8Array> = []
      const finish = (stdin: Uint8Array | undefined) =>
        answer(id, command, { cwd: o.cwd, env: o.env }, { stdin, args: o.args }).pipe(
          Effect.map(eventsOf),
          Effect.exit,
          Effect.flatMap((exit) => Deferred.complete(session.done, exit))
        )
      if (o.stdin === false) yield* finish(undefined)
      const failed = yield* Deferred.poll(session.done)
      if (Option.isSome(failed)) yield* failed.value
      sessions.push(session)
      let detached = false
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => session.attached--).pipe(
          Effect.zipRight(detached ? Effect.void : Deferred.succeed(session.done, [ExecEvent.Exit({ exitCode: 128 + 15 })]))
        )
      )
      const output = (tag: "Stdout" | "Stderr") =>
        Stream.fromIterableEffect(Effect.orDie(Deferred.await(session.done))).pipe(
          Stream.filterMap((e) => e._tag === tag ? Option.some(e.data) : Option.none())
        )
      const process: Process = {
        sessionId: session.id,
        stdout: output("Stdout"),
        stderr: output("Stderr"),
        write: (data) => Effect.sync(() => void input.push(typeof data === "string" ? encoder.encode(data) : data.slice())),
        closeStdin: Effect.suspend(() => finish(concat(input))).pipe(Effect.asVoid, Effect.orDie),
        signal: (name) => Deferred.succeed(session.done, [ExecEvent.Exit({ exitCode: 128 + signalNumber(name) })]).pipe(Effect.asVoid),
        resize: () => Effect.void,
        exitCode: Deferred.await(session.done).pipe(
          Effect.map((events) => events.flatMap((e) => e._tag === "Exit" ? [e.exitCode] : [])[0] ?? 0),
          Effect.orDie
        ),
        detach: o.detachable === true
          ? Effect.sync(() => {
            detached = true
          })
          : Effect.fail(new HeyoError.InvalidArgument({ message: "only a process spawned with `detachable: true` can be detached" }))
      }
      return process
    })

  const find = (sandboxId: string, sessionId: string) => {
    const session = sessions.find((s) => s.sandboxId === sandboxId && s.id === sessionId)
    return session === undefined
      ? Effect.fail(new HeyoError.NotFound({ message: `session ${sessionId} not found (calling WSS /v1/sprites/${sandboxId}/exec/${sessionId})` }))
      : Effect.succeed(session)
  }

  const list = (sandboxId: HeyoSandbox.SandboxId) =>
    Effect.forEach(sessions.filter((s) => s.sandboxId === sandboxId), (s) =>
      Effect.map(Deferred.poll(s.done), (done) => {
        const events = Option.isSome(done) ? Effect.runSync(Effect.either(done.value)) : undefined
        const exit = events?._tag === "Right" ? events.right.find((e) => e._tag === "Exit") : undefined
        return new ExecSession({
          id: s.id,
          command: s.command,
          workdir: "",
          created: s.created,
          isActive: s.attached > 0,
          lastActivity: s.created,
          bytesPerSecond: 0,
          tty: s.tty,
          exited: exit !== undefined,
          ...(exit?._tag === "Exit" ? { exitCode: exit.exitCode } : {})
        })
      }))

  const attach = (sandboxId: HeyoSandbox.SandboxId, sessionId: string, o: Commands.AttachOptions) =>
    Effect.gen(function*() {
      const session = yield* find(sandboxId, sessionId)
      const events = yield* Deferred.await(session.done)
      let skip = o.offset ?? 0
      const out: Array<ExecEvent.ExecEvent> = []
      for (const event of events) {
        if (event._tag !== "Stdout" && event._tag !== "Stderr") {
          out.push(event)
          continue
        }
        if (skip >= event.data.byteLength) {
          skip -= event.data.byteLength
          continue
        }
        out.push(event._tag === "Stdout" ? ExecEvent.Stdout({ data: event.data.subarray(skip) }) : ExecEvent.Stderr({ data: event.data.subarray(skip) }))
        skip = 0
      }
      return Stream.fromIterable(out)
    }).pipe(Stream.unwrap)

  const kill = (sandboxId: HeyoSandbox.SandboxId, sessionId: string, o: Commands.KillOptions) =>
    Effect.gen(function*() {
      const session = yield* find(sandboxId, sessionId)
      const code = 128 + signalNumber(o.signal ?? "TERM")
      const fresh = yield* Deferred.succeed(session.done, [ExecEvent.Exit({ exitCode: code })])
      return fresh ? Option.some(code) : Option.none<number>()
    })

  return { stream, spawn, sessions: list, attach, kill }
}
