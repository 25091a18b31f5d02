/**
 * Exec sessions and shells: commands whose life is not tied to one connection.
 *
 * A session owns its process (in a Scope of its own, not the request's), reads its output
 * into an OutputLog as fast as the slowest attached client allows, and keeps the scrollback for
 * clients that attach later. When its last client leaves it runs on for its
 * `maxRunAfterDisconnect` (forever when unset), then gets SIGTERM and, `killGrace` later,
 * SIGKILL. An exited session stays listed and attachable for `sessionRetention`, so a client
 * that missed the end can still read the tail and the exit code.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Sandboxes } from "../engine/Sandboxes.js"
import { type Conflict, type HostFailure, type SandboxNotFound, SessionNotFound, Gone } from "../engine/EngineError.js"
import type { Process, TerminalSize } from "../runtime/Runtime.js"
import { ServerConfig } from "../ServerConfig.js"
import { OutputLog, type Reader } from "./OutputLog.js"

export interface StartSpec {
  readonly argv: ReadonlyArray<string>
  readonly cwd?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly stdin: boolean
  readonly tty?: TerminalSize | undefined
  /** How long it runs on once no client is attached; none = until it exits. */
  readonly maxRunAfterDisconnect: Option.Option<Duration.Duration>
  /** `shell`s are the Heyo dialect's, `exec`s the Sprites dialect's; each lists only its own. */
  readonly kind: "exec" | "shell"
}

export interface Session {
  readonly id: string
  readonly sandboxId: string
  readonly kind: "exec" | "shell"
  readonly command: string
  readonly workdir: string
  readonly created: Date
  readonly tty: boolean
  readonly stdin: boolean
  readonly log: OutputLog
  readonly process: Process
  /** The exit code once the command exited and all its output is in the log. */
  readonly exitCode: Effect.Effect<number>
  readonly exited: () => number | undefined
  readonly size: () => TerminalSize | undefined
  readonly resize: (size: TerminalSize) => Effect.Effect<void>
  readonly attachments: () => number
  readonly lastActivity: () => Date
  /** Output bytes per second over the session's life so far. */
  readonly bytesPerSecond: () => number
  /** The highest output seq a Heyo shell client acknowledged. */
  ackedSeq: number
}

export interface Started {
  readonly session: Session
  /** The creator's reader, at offset 0. */
  readonly reader: Reader
}

export interface KillEvent {
  readonly type: "signal" | "timeout" | "exited" | "killed" | "error" | "complete"
  readonly message?: string
  readonly signal?: string
  readonly pid?: number
  readonly exit_code?: number
}

export interface Service {
  /**
   * Starts a session with its creator attached from the first byte, for the Scope's life: no
   * output is evicted before the creator's connection is ready to read it.
   */
  readonly start: (
    sandboxId: string,
    spec: StartSpec
  ) => Effect.Effect<Started, SandboxNotFound | Conflict | HostFailure, Scope.Scope>
  readonly get: (sandboxId: string, id: string, kind: Session["kind"]) => Effect.Effect<Session, SessionNotFound>
  readonly list: (sandboxId: string, kind: Session["kind"]) => Effect.Effect<ReadonlyArray<Session>>
  /** An attached client for the Scope's life: the disconnect timer is off meanwhile. */
  readonly attach: (session: Session) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Sends `signal` to the session's process group, then SIGKILL after `timeout` (zero: no
   * escalation), reporting each step; Gone when it had already exited.
   */
  readonly kill: (
    session: Session,
    signal: NodeJS.Signals,
    timeout: Duration.Duration
  ) => Effect.Effect<Stream.Stream<KillEvent>, Gone>
}

export class Sessions extends Context.Tag("@heyo-effect/server/Sessions")<Sessions, Service>() {}

const drainOutput = (stream: Stream.Stream<Uint8Array>, log: OutputLog, id: 1 | 2) =>
  Stream.runForEach(stream, (data) => log.append(id, data))

export const make = Effect.gen(function*() {
  const sandboxes = yield* Sandboxes
  const config = yield* ServerConfig
  const scope = yield* Effect.scope
  /** sandbox id -> session id -> session */
  const registry = new Map<string, Map<string, Session>>()

  const forget = (session: Session) => {
    const sessions = registry.get(session.sandboxId)
    if (sessions?.get(session.id) !== session) return
    sessions.delete(session.id)
    if (sessions.size === 0) registry.delete(session.sandboxId)
  }

  const controls = new WeakMap<Session, { readonly attached: Effect.Effect<void>; readonly detached: Effect.Effect<void> }>()

  const attach = (session: Session) =>
    Effect.acquireRelease(
      Effect.suspend(() => controls.get(session)!.attached),
      () => Effect.suspend(() => controls.get(session)!.detached)
    )

  const start = Effect.fn("Sessions.start")(function*(sandboxId: string, spec: StartSpec) {
    const processScope = yield* Scope.fork(scope, ExecutionStrategy.sequential)
    const process = yield* sandboxes.spawn(sandboxId, {
      argv: spec.argv,
      cwd: spec.cwd,
      env: spec.env,
      stdin: spec.stdin,
      tty: spec.tty
    }).pipe(
      Scope.extend(processScope),
      Effect.tapError(() => Scope.close(processScope, Exit.void))
    )
    const log = new OutputLog(config.scrollbackBytes)
    const creator = yield* Effect.acquireRelease(
      Effect.sync(() => log.attach(0).reader),
      (reader) => Effect.sync(() => log.detach(reader))
    )
    const exitCode = yield* Deferred.make<number>()
    const created = new Date(yield* Clock.currentTimeMillis)
    let exited: number | undefined
    let attachments = 0
    let size = spec.tty
    let linger: Fiber.RuntimeFiber<void> | undefined
    let lastActivity = created

    const session: Session = {
      id: String(process.pid),
      sandboxId,
      kind: spec.kind,
      command: spec.argv.join(" "),
      workdir: spec.cwd ?? "",
      created,
      tty: spec.tty !== undefined,
      stdin: spec.stdin,
      log,
      process,
      exitCode: Deferred.await(exitCode),
      exited: () => exited,
      size: () => size,
      resize: (next) =>
        Effect.suspend(() => {
          if (size === undefined) return Effect.void
          size = next
          return process.resize(next)
        }),
      attachments: () => attachments,
      lastActivity: () => lastActivity,
      bytesPerSecond: () => {
        const seconds = (Date.now() - created.getTime()) / 1000
        return seconds > 0 ? log.end / seconds : 0
      },
      ackedSeq: 0
    }

    // Output into the log; the end of both pipes and the exit make the session's end.
    const run = Effect.gen(function*() {
      yield* Effect.all([
        drainOutput(process.stdout, log, 1).pipe(Effect.tap(() => Effect.sync(() => (lastActivity = new Date())))),
        drainOutput(process.stderr, log, 2)
      ], { concurrency: 2, discard: true })
      const code = yield* process.exitCode
      exited = code
      log.finish()
      yield* Deferred.succeed(exitCode, code)
      if (linger !== undefined) yield* Fiber.interrupt(linger)
      yield* Scope.close(processScope, Exit.void)
      yield* Effect.sleep(config.sessionRetention)
    }).pipe(Effect.ensuring(Effect.sync(() => forget(session))))

    let sessions = registry.get(sandboxId)
    if (sessions === undefined) registry.set(sandboxId, sessions = new Map())
    sessions.set(session.id, session)
    yield* Effect.forkIn(run, scope)
    const endWithoutClient = Effect.suspend(() => {
      if (exited !== undefined || Option.isNone(spec.maxRunAfterDisconnect)) return Effect.void
      const after = spec.maxRunAfterDisconnect.value
      return Effect.gen(function*() {
        yield* Effect.sleep(after)
        yield* Effect.logInfo(`session ${session.id} ran ${Duration.format(after)} without a client: ending it`)
        yield* process.signal("SIGTERM")
        yield* Effect.sleep(config.killGrace)
        yield* Scope.close(processScope, Exit.void)
      }).pipe(
        // Started from a detaching client's finalizer, which is uninterruptible: the timer itself
        // must stay interruptible, or a returning client could not cancel it.
        Effect.interruptible,
        Effect.forkIn(scope),
        Effect.tap((fiber) => Effect.sync(() => (linger = fiber))),
        Effect.asVoid
      )
    })
    controls.set(session, {
      attached: Effect.suspend(() => {
        attachments++
        const fiber = linger
        linger = undefined
        return fiber === undefined ? Effect.void : Fiber.interrupt(fiber)
      }),
      detached: Effect.suspend(() => --attachments === 0 ? endWithoutClient : Effect.void)
    })
    // The creator is its first client; when it leaves, the disconnect timer starts.
    yield* attach(session)
    return { session, reader: creator } satisfies Started
  })

  const get = (sandboxId: string, id: string, kind: Session["kind"]) => {
    const session = registry.get(sandboxId)?.get(id)
    return session !== undefined && session.kind === kind
      ? Effect.succeed(session)
      : Effect.fail(new SessionNotFound({ sessionId: id }))
  }

  const list = (sandboxId: string, kind: Session["kind"]) =>
    Effect.sync(() => [...(registry.get(sandboxId)?.values() ?? [])].filter((s) => s.kind === kind))

  const kill = (session: Session, signal: NodeJS.Signals, timeout: Duration.Duration) =>
    Effect.suspend(() => {
      if (session.exited() !== undefined) {
        return Effect.fail(new Gone({ message: `session ${session.id} already exited` }))
      }
      const first: KillEvent = {
        type: "signal",
        message: `Signaling ${signal} to process group ${session.id}`,
        signal,
        pid: session.process.pid
      }
      const rest = Effect.gen(function*() {
        // A zero timeout means "signal only": no waiting, no escalation.
        if (Duration.isZero(timeout)) return Stream.make<[KillEvent]>({ type: "complete" })
        const waited = yield* Effect.timeoutOption(session.exitCode, timeout)
        if (Option.isSome(waited)) {
          return Stream.fromIterable<KillEvent>([
            { type: "exited", message: "Process exited" },
            { type: "complete", exit_code: waited.value }
          ])
        }
        yield* session.process.signal("SIGKILL")
        const killed = yield* Effect.timeoutOption(session.exitCode, Duration.seconds(5))
        return Stream.fromIterable<KillEvent>([
          { type: "timeout", message: `Timeout after ${Duration.format(timeout)}, sending SIGKILL` },
          ...(Option.isSome(killed)
            ? [{ type: "killed", message: "Process killed" }, { type: "complete", exit_code: killed.value }] as const
            : [{ type: "error", message: "Warning: process may not have terminated" }, { type: "complete" }] as const)
        ])
      })
      const events = Stream.concat(
        Stream.fromEffect(Effect.as(session.process.signal(signal), first)),
        Stream.unwrap(rest)
      )
      return Effect.succeed(events)
    })

  return Sessions.of({ start, get, list, attach, kill })
})

export const layer = Layer.scoped(Sessions, make)
