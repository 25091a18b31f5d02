/**
 * Interactive shells over Heyo's shell-stream WebSocket (reference/heyo-api.md §4), as a
 * Scope-managed ShellSession that survives network blips.
 *
 * Output frames carry a seq; the session acknowledges the highest one it received every 100 ms,
 * and drops any it already has, so after a reconnect (the server replays what follows the last
 * acknowledged frame) `output` has each byte exactly once and in order. A connection silent
 * for 60 s is treated as dead. Reconnections follow `ShellReconnectOptions` (by default 5
 * tries, 100 ms doubling up to 30 s), as a Schedule; writes made while disconnected are sent
 * after the reconnection.
 *
 * @since 0.1.0
 */
import { HeyoShell } from "@heyo-effect/protocol"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Take from "effect/Take"
import { HeyoClient, path, type WebSocketConnection } from "./HeyoClient.js"
import * as HeyoError from "./HeyoError.js"

/** @since 0.1.0 */
export interface ShellReconnectOptions {
  /** Default 5. */
  readonly maxRetries?: number | undefined
  /** The first delay, doubled on each further try. Default 100 ms. */
  readonly baseDelay?: Duration.DurationInput | undefined
  /** Default 30 s. */
  readonly maxDelay?: Duration.DurationInput | undefined
}

/** @since 0.1.0 */
export interface ShellOptions {
  /** Default 80. */
  readonly cols?: number | undefined
  /** Default 24. */
  readonly rows?: number | undefined
  readonly cwd?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  /** `false`: a lost connection ends the session (Error, then Closed). */
  readonly reconnect?: ShellReconnectOptions | false | undefined
}

/** @since 0.1.0 */
export type ShellEvent = Data.TaggedEnum<{
  readonly Reconnecting: { readonly attempt: number; readonly delay: Duration.Duration }
  readonly Reconnected: {}
  /** Last, always; `exitCode` is none when the shell's end was not reported (gave up, expired). */
  readonly Closed: { readonly exitCode: Option.Option<number> }
  /** `session_expired` and `gave_up` are followed by Closed; others are reports only. */
  readonly Error: { readonly code: string; readonly message: string }
}>

/** @since 0.1.0 */
export const ShellEvent = Data.taggedEnum<ShellEvent>()

/** @since 0.1.0 */
export interface ShellSession {
  readonly sessionId: string
  /** The terminal's output, each byte once, in order; ends when the session closes. */
  readonly output: Stream.Stream<Uint8Array>
  readonly events: Stream.Stream<ShellEvent>
  /** Sent now, or after the reconnection when the connection is down. */
  readonly write: (data: string | Uint8Array) => Effect.Effect<void>
  readonly resize: (cols: number, rows: number) => Effect.Effect<void>
  /** Ends the shell gracefully and waits (up to 2 s) for its exit code. */
  readonly close: Effect.Effect<Option.Option<number>>
  /** The shell's exit code; SessionExpired when it ended unseen (expired, or reconnecting gave up). */
  readonly exitCode: Effect.Effect<number, HeyoError.SessionExpired>
}

/** @since 0.1.0 */
export interface Service {
  /** A shell for the Scope's life; closing the Scope drops the connection (the server ends the shell after its grace window). */
  readonly open: (
    sandboxId: string,
    options?: ShellOptions | undefined
  ) => Effect.Effect<ShellSession, HeyoError.HttpError | HeyoError.SessionExpired, Scope.Scope>
}

/** @since 0.1.0 */
export class Shell extends Context.Tag("@heyo-effect/sdk/Shell")<Shell, Service>() {}

/**
 * The reconnection policy as a Schedule: delays `baseDelay * 2^(n-1)`, capped at `maxDelay`,
 * at most `maxRetries` of them. Its output is the delay.
 *
 * @since 0.1.0
 */
export const reconnectSchedule = (options: ShellReconnectOptions = {}): Schedule.Schedule<Duration.Duration> => {
  const max = Duration.decode(options.maxDelay ?? "30 seconds")
  return Schedule.exponential(options.baseDelay ?? "100 millis").pipe(
    Schedule.modifyDelay((delay) => Duration.min(delay, max)),
    Schedule.delays,
    Schedule.zipLeft(Schedule.recurs(options.maxRetries ?? 5))
  )
}

const encodeClient = Schema.encodeSync(HeyoShell.ClientMessageFromJson)
const decodeServer = Schema.decodeUnknownOption(HeyoShell.ServerMessageFromJson)
const encoder = new TextEncoder()
const ackEvery = Duration.millis(100)
const silenceLimit = Duration.seconds(60)

type Hello = { readonly _tag: "Ready"; readonly sessionId: string } | { readonly _tag: "Expired"; readonly message: string }

/** @since 0.1.0 */
export const make = Effect.map(HeyoClient, (client): Service => {
  const open = Effect.fn("Shell.open")(function*(sandboxId: string, options?: ShellOptions) {
    yield* Effect.annotateCurrentSpan("sandbox.id", sandboxId)
    const o = options ?? {}
    const route = path`/deployed-sandboxes/${sandboxId}/shell-stream`
    const size = { cols: o.cols ?? 80, rows: o.rows ?? 24 }
    const output = yield* Queue.bounded<Take.Take<Uint8Array>>(64)
    const events = yield* Queue.unbounded<Take.Take<ShellEvent>>()
    const exit = yield* Deferred.make<number, HeyoError.SessionExpired>()
    let lastSeq = 0
    let acked = 0
    let connection: WebSocketConnection | undefined
    let pending: Array<Uint8Array> = []
    let closing = false

    const emit = (event: ShellEvent) => Queue.offer(events, Take.of(event))

    /** Opens a connection in `scope` and says hello; the answer is the first ready or error. */
    const connect = (scope: Scope.Scope, sessionId: string | undefined) =>
      Effect.gen(function*() {
        const conn = yield* client.webSocket({ path: route }).pipe(Scope.extend(scope))
        yield* conn.send(encodeClient(new HeyoShell.Init({ ...size, env: o.env, cwd: o.cwd, sessionId })))
        const pull = yield* Stream.toPull(conn.messages).pipe(Scope.extend(scope))
        while (true) {
          const chunk = yield* pull.pipe(
            Effect.catchAll(Option.match({
              onNone: () => Effect.fail(new HeyoError.Connection({ message: `shell-stream socket closed before ready (calling WSS ${route})` })),
              onSome: Effect.fail
            }))
          )
          for (const message of chunk) {
            if (typeof message !== "string") continue
            const m = decodeServer(message)
            if (Option.isNone(m)) continue
            if (m.value.type === "ready") return { hello: { _tag: "Ready", sessionId: m.value.sessionId } as Hello, conn, pull }
            if (m.value.type === "error" && m.value.code === "session_expired") {
              return { hello: { _tag: "Expired", message: m.value.message ?? "session expired" } as Hello, conn, pull }
            }
          }
        }
      })

    /** Reads one connection until it ends: "exit" (the shell ended) or "dropped". */
    const pump = (pull: Effect.Effect<Iterable<string | Uint8Array>, Option.Option<HeyoError.Connection>>) =>
      Effect.gen(function*() {
        while (true) {
          const chunk = yield* pull.pipe(
            Effect.timeoutFail({ duration: silenceLimit, onTimeout: () => Option.none() }),
            Effect.option
          )
          if (Option.isNone(chunk)) return "dropped" as const
          for (const message of chunk.value) {
            if (typeof message !== "string") {
              const frame = HeyoShell.decodeStdout(message)
              if (frame === undefined || frame.seq <= lastSeq) continue
              lastSeq = frame.seq
              yield* Queue.offer(output, Take.of(frame.data))
              continue
            }
            const m = decodeServer(message)
            if (Option.isNone(m)) continue
            switch (m.value.type) {
              case "exit":
                yield* Deferred.succeed(exit, m.value.code)
                return "exit" as const
              case "error":
                yield* emit(ShellEvent.Error({ code: m.value.code ?? "error", message: m.value.message ?? "shell error" }))
                if (m.value.code === "session_expired") return "expired" as const
                break
              default:
                break
            }
          }
        }
      })

    const flush = (conn: WebSocketConnection) =>
      Effect.suspend(() => {
        const queued = pending
        pending = []
        return Effect.forEach(queued, (data) => conn.send(HeyoShell.encodeStdin(data)), { discard: true })
      })

    const first = yield* Scope.make()
    const opened = yield* connect(first, undefined).pipe(Effect.tapError(() => Scope.close(first, Exit.void)))
    if (opened.hello._tag === "Expired") {
      yield* Scope.close(first, Exit.void)
      return yield* new HeyoError.SessionExpired({ sessionId: Option.none() })
    }
    const sessionId = opened.hello.sessionId
    connection = opened.conn

    const finish = (exitCode: Option.Option<number>) =>
      Effect.gen(function*() {
        connection = undefined
        if (Option.isNone(exitCode)) yield* Deferred.fail(exit, new HeyoError.SessionExpired({ sessionId: Option.some(sessionId) }))
        yield* emit(ShellEvent.Closed({ exitCode }))
        yield* Queue.offer(events, Take.end)
        yield* Queue.offer(output, Take.end)
      })

    const policy = o.reconnect === false ? undefined : reconnectSchedule(o.reconnect ?? {})

    const lifecycle = Effect.gen(function*() {
      let scope = first
      let pull = opened.pull
      while (true) {
        const ended = yield* pump(pull)
        yield* Scope.close(scope, Exit.void)
        connection = undefined
        if (ended === "exit") return yield* finish(Option.some(yield* Deferred.await(exit)))
        if (ended === "expired" || closing) return yield* finish(Option.none())
        if (policy === undefined) {
          yield* emit(ShellEvent.Error({ code: "connection_lost", message: "the shell's connection was lost (reconnect disabled)" }))
          return yield* finish(Option.none())
        }
        // Reconnect, one Schedule step per attempt: its output is the delay to wait first.
        let state = policy.initial
        let attempt = 0
        let resumed: { scope: Scope.CloseableScope; pull: typeof pull } | undefined
        while (resumed === undefined) {
          attempt++
          const [nextState, delay, decision] = yield* policy.step(yield* Clock.currentTimeMillis, undefined, state)
          if (ScheduleDecision.isDone(decision)) {
            yield* emit(ShellEvent.Error({ code: "gave_up", message: `gave up after ${attempt - 1} reconnect attempts` }))
            return yield* finish(Option.none())
          }
          state = nextState
          yield* emit(ShellEvent.Reconnecting({ attempt, delay }))
          yield* Effect.sleep(delay)
          const next = yield* Scope.make()
          const again = yield* connect(next, sessionId).pipe(Effect.either)
          if (again._tag === "Left") {
            yield* Scope.close(next, Exit.void)
            continue
          }
          if (again.right.hello._tag === "Expired") {
            yield* Scope.close(next, Exit.void)
            yield* emit(ShellEvent.Error({ code: "session_expired", message: again.right.hello.message }))
            return yield* finish(Option.none())
          }
          connection = again.right.conn
          yield* flush(again.right.conn).pipe(Effect.ignore)
          yield* emit(ShellEvent.Reconnected())
          resumed = { scope: next, pull: again.right.pull }
        }
        scope = resumed.scope
        pull = resumed.pull
      }
    })

    const acks = Effect.suspend(() => {
      if (lastSeq <= acked || connection === undefined) return Effect.void
      acked = lastSeq
      return connection.send(encodeClient(new HeyoShell.Ack({ seq: lastSeq }))).pipe(Effect.ignore)
    }).pipe(Effect.repeat(Schedule.spaced(ackEvery)))

    yield* Effect.forkScoped(lifecycle)
    yield* Effect.forkScoped(acks)

    const write = (data: string | Uint8Array) =>
      Effect.suspend(() => {
        const bytes = typeof data === "string" ? encoder.encode(data) : data
        if (bytes.byteLength === 0) return Effect.void
        if (connection === undefined) return Effect.sync(() => void pending.push(bytes))
        return connection.send(HeyoShell.encodeStdin(bytes)).pipe(
          Effect.catchAll(() => Effect.sync(() => void pending.push(bytes)))
        )
      })

    const session: ShellSession = {
      sessionId,
      output: Stream.flattenTake(Stream.fromQueue(output)),
      events: Stream.flattenTake(Stream.fromQueue(events)),
      write,
      resize: (cols, rows) =>
        Effect.suspend(() => {
          size.cols = cols
          size.rows = rows
          return connection === undefined
            ? Effect.void
            : connection.send(encodeClient(new HeyoShell.Resize({ cols, rows }))).pipe(Effect.ignore)
        }),
      close: Effect.suspend(() => {
        closing = true
        const send = connection === undefined
          ? Effect.void
          : connection.send(encodeClient(new HeyoShell.Close())).pipe(Effect.ignore)
        return send.pipe(
          Effect.zipRight(Deferred.await(exit).pipe(Effect.timeout(Duration.seconds(2)), Effect.option))
        )
      }),
      exitCode: Deferred.await(exit)
    }
    return session
  })
  return Shell.of({ open })
})

/** @since 0.1.0 */
export const layer: Layer.Layer<Shell, never, HeyoClient> = Layer.effect(Shell, make)

/** @since 0.1.0 */
export const open = (sandboxId: string, options?: ShellOptions) => Effect.flatMap(Shell, (s) => s.open(sandboxId, options))
