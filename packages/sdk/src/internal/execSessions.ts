/**
 * Commands over heyod's Sprites exec routes, addressed by sandbox id (DESIGN.md): streamed
 * commands, spawned processes, the session list, attach and kill.
 */
import { SpritesSession } from "@heyo-effect/protocol"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Take from "effect/Take"
import type * as Commands from "../Commands.js"
import type * as ExecEvent from "../ExecEvent.js"
import * as ExecSession from "../ExecSession.js"
import { type Service as Client, path } from "../HeyoClient.js"
import * as HeyoError from "../HeyoError.js"
import type { Process } from "../Process.js"
import * as ExecStream from "./execStream.js"
import type { ExecBackend } from "./services.js"

const defaultKillGrace = Duration.seconds(2)
/** A non-detachable command's client is gone: the server ends it after this long. */
const abandonedAfter = "10s"

const ttySize = (tty: Commands.TtyOption | undefined) =>
  tty === undefined || tty === false ? undefined : tty === true ? { cols: 80, rows: 24 } : tty

const goDuration = (d: Duration.DurationInput) => `${Math.round(Duration.toMillis(Duration.decode(d)))}ms`

interface QueryOptions {
  readonly args?: ReadonlyArray<string> | undefined
  readonly cwd?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly tty?: Commands.TtyOption | undefined
  readonly stdin: boolean
  readonly maxRunAfterDisconnect: string | undefined
}

/** `sh -c command sh args...` as the exec query (§3.1). */
const execQuery = (command: string, o: QueryOptions) => {
  const query: Array<readonly [string, string]> = [["cmd", "sh"], ["cmd", "-c"], ["cmd", command], ["cmd", "sh"]]
  for (const arg of o.args ?? []) query.push(["cmd", arg])
  query.push(["path", "sh"])
  if (o.cwd !== undefined) query.push(["dir", o.cwd])
  for (const [key, value] of Object.entries(o.env ?? {})) query.push(["env", `${key}=${value}`])
  const size = ttySize(o.tty)
  if (size !== undefined) query.push(["tty", "true"], ["cols", String(size.cols)], ["rows", String(size.rows)])
  query.push(["stdin", o.stdin ? "true" : "false"])
  if (o.maxRunAfterDisconnect !== undefined) query.push(["max_run_after_disconnect", o.maxRunAfterDisconnect])
  return query
}

/**
 * Ends a command whose client is leaving: SIGTERM, the exit awaited for `grace`, then SIGKILL.
 * Best effort: a connection already gone leaves it to the server's own disconnect timer.
 */
const terminate = (ch: ExecStream.ExecChannel, grace: Duration.Duration) =>
  Effect.suspend(() => {
    if (ch.exited()) return Effect.void
    // Run from a finalizer, which is uninterruptible: the wait must stay interruptible for the
    // timeout to be able to end it.
    const exited = Effect.interruptible(ch.events.pipe(Stream.runDrain, Effect.ignore))
    return ch.signal("TERM").pipe(
      Effect.zipRight(Effect.timeout(exited, grace)),
      Effect.catchTag("TimeoutException", () =>
        ch.signal("KILL").pipe(Effect.zipRight(Effect.timeout(exited, Duration.seconds(1))))),
      Effect.ignore
    )
  })

export const make = (client: Client): ExecBackend => {
  const connect = (sandboxId: string, query: ReadonlyArray<readonly [string, string]>, tty: boolean) =>
    Effect.gen(function*() {
      yield* client.requireFeature("exec-stream")
      const route = path`/v1/sprites/${sandboxId}/exec`
      const connection = yield* client.webSocket({ path: route, query })
      return yield* ExecStream.channel(connection, `WSS ${route}`, tty)
    })

  const stream = <E>(sandboxId: string, command: string, o: Commands.StreamOptions<E>) =>
    Effect.gen(function*() {
      const tty = ttySize(o.tty) !== undefined
      const ch = yield* connect(sandboxId, execQuery(command, { ...o, stdin: o.stdin !== undefined, maxRunAfterDisconnect: undefined }), tty)
      yield* Effect.addFinalizer(() => terminate(ch, Duration.decode(o.killGrace ?? defaultKillGrace)))
      const events = o.stdin === undefined
        ? ch.events
        : Stream.merge(ch.events, Stream.drain(Stream.fromEffect(ExecStream.feed(ch, o.stdin))), { haltStrategy: "left" })
      if (o.timeout === undefined) return events
      const timeout = Duration.decode(o.timeout)
      return Stream.timeoutFail(events, () =>
        new HeyoError.Timeout({
          message: `command did not finish within ${Duration.format(timeout)} (calling WSS /v1/sprites/${sandboxId}/exec)`,
          timeout
        }), timeout)
    }).pipe(Stream.unwrapScoped)

  const spawn = (sandboxId: string, command: string, o: Commands.SpawnOptions) =>
    Effect.gen(function*() {
      const tty = ttySize(o.tty) !== undefined
      const detachable = o.detachable === true
      const linger = detachable
        ? (o.maxRunAfterDisconnect === undefined ? "0" : goDuration(o.maxRunAfterDisconnect))
        : abandonedAfter
      const ch = yield* connect(
        sandboxId,
        execQuery(command, { ...o, stdin: o.stdin ?? true, maxRunAfterDisconnect: linger }),
        tty
      )
      const stdout = yield* Queue.bounded<Take.Take<Uint8Array, HeyoError.Connection>>(32)
      const stderr = yield* Queue.bounded<Take.Take<Uint8Array, HeyoError.Connection>>(32)
      const exit = yield* Deferred.make<number, HeyoError.Connection>()
      let detached = false
      // Both outputs come from one socket: the pump waits while either queue is full.
      yield* ch.events.pipe(
        Stream.runForEach((event) => {
          switch (event._tag) {
            case "Stdout":
              return Queue.offer(stdout, Take.of(event.data))
            case "Stderr":
              return Queue.offer(stderr, Take.of(event.data))
            case "Exit":
              return Deferred.succeed(exit, event.exitCode)
            default:
              return Effect.void
          }
        }),
        Effect.onExit((result) => {
          const end = result._tag === "Success" ? Take.end : Take.failCause(result.cause)
          return Effect.all([
            Queue.offer(stdout, end),
            Queue.offer(stderr, end),
            result._tag === "Failure" ? Deferred.failCause(exit, result.cause) : Effect.void
          ])
        }),
        Effect.forkScoped
      )
      const info = yield* Deferred.await(ch.info)
      yield* Effect.addFinalizer(() =>
        detached ? Effect.void : terminate(ch, Duration.decode(o.killGrace ?? defaultKillGrace)))
      const encoder = new TextEncoder()
      const process: Process = {
        sessionId: info.session_id,
        stdout: Stream.flattenTake(Stream.fromQueue(stdout)),
        stderr: Stream.flattenTake(Stream.fromQueue(stderr)),
        write: (data) => ch.write(typeof data === "string" ? encoder.encode(data) : data),
        closeStdin: ch.closeStdin,
        signal: ch.signal,
        resize: (cols, rows) => tty ? ch.resize(cols, rows) : Effect.void,
        exitCode: Deferred.await(exit),
        detach: detachable
          ? Effect.sync(() => {
            detached = true
          })
          : Effect.fail(new HeyoError.InvalidArgument({ message: "only a process spawned with `detachable: true` can be detached" }))
      }
      return process
    })

  const sessions = (sandboxId: string) =>
    Effect.zipRight(
      client.requireFeature("exec-stream"),
      client.json(ExecSession.fromWire, { method: "GET", path: path`/v1/sprites/${sandboxId}/exec` })
    )

  const attach = (sandboxId: string, sessionId: string, o: Commands.AttachOptions) => {
    let offset = o.offset
    const route = path`/v1/sprites/${sandboxId}/exec/${sessionId}`
    const once = Effect.gen(function*() {
      yield* client.requireFeature("exec-stream")
      const query: Array<readonly [string, string]> = [["stdin", "false"]]
      if (offset !== undefined) query.push(["offset", String(offset)])
      const connection = yield* client.webSocket({ path: route, query })
      // The mode is the session's: session_info, which heyod sends first, says which.
      const ch = yield* ExecStream.channel(connection, `WSS ${route}`, "from-session")
      return ch.events.pipe(Stream.tap(() => Effect.sync(() => (offset = ch.offset()))))
    }).pipe(Stream.unwrapScoped)
    const resume = (left: number): Stream.Stream<ExecEvent.ExecEvent, Commands.StreamError> =>
      once.pipe(Stream.catchAll((error) =>
        error._tag === "Connection" && left > 0
          ? Stream.concat(Stream.drain(Stream.fromEffect(Effect.sleep(Duration.millis(100 * 2 ** (4 - Math.min(left, 4)))))), resume(left - 1))
          : Stream.fail(error)
      ))
    return resume(o.reconnects ?? 5)
  }

  const decodeKillLine = Schema.decodeUnknownOption(Schema.parseJson(SpritesSession.KillEvent))

  const kill = (sandboxId: string, sessionId: string, o: Commands.KillOptions) =>
    Effect.gen(function*() {
      yield* client.requireFeature("exec-stream")
      const route = path`/v1/sprites/${sandboxId}/exec/${sessionId}/kill`
      const timeout = o.timeout === undefined ? "10s" : goDuration(o.timeout)
      const signal = o.signal ?? "SIGTERM"
      const text = yield* client.stream({
        method: "POST",
        path: route,
        query: { signal, timeout }
      }).pipe(Stream.decodeText(), Stream.splitLines, Stream.runCollect)
      let exitCode = Option.none<number>()
      for (const line of text) {
        const event = decodeKillLine(line)
        if (Option.isSome(event) && event.value.type === "complete" && event.value.exit_code !== undefined) {
          exitCode = Option.some(event.value.exit_code)
        }
      }
      return exitCode
    }).pipe(
      // 410: it had already exited, which is what the caller wanted
      Effect.catchIf((e) => e._tag === "Api" && e.status === 410, () => Effect.succeed(Option.none<number>()))
    )

  return { stream, spawn, sessions, attach, kill }
}
