/**
 * Sprites exec routes (reference/sprites-api.md §2.6, §3): new sessions over WebSocket or HTTP,
 * the session list, attach (with heyod's `?offset=`), and kill.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { SpritesExecFrame, SpritesExecQuery, SpritesSession } from "@heyo-effect/protocol"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { type Session, Sessions, type Started } from "../../sessions/Sessions.js"
import { ServerConfig } from "../../ServerConfig.js"
import * as Body from "../Body.js"
import { BadRequest } from "../HttpErrors.js"
import { isUpgrade } from "../WebSocketUpgrade.js"
import * as ExecSocket from "./ExecSocket.js"
import { query, sprite } from "./SpriteLookup.js"
import { spriteVersion } from "./SpritesErrorResponse.js"

const sessionId = Effect.map(HttpRouter.params, (params) => params["id"] ?? "")

/**
 * `max_run_after_disconnect`: `0` is forever; absent is forever for a TTY and heyod's
 * `execLinger` otherwise (§1.5).
 */
const lingerOf = (q: SpritesExecQuery.ExecQuery, execLinger: Duration.Duration) =>
  q.max_run_after_disconnect === undefined
    ? (q.tty ? Option.none() : Option.some(execLinger))
    : q.max_run_after_disconnect === 0
    ? Option.none()
    : Option.some(Duration.millis(q.max_run_after_disconnect))

const startSession = (sandboxId: string, q: SpritesExecQuery.ExecQuery, stdin: boolean) =>
  Effect.gen(function*() {
    const config = yield* ServerConfig
    const size = q.tty ? { cols: clampSize(q.cols ?? 80), rows: clampSize(q.rows ?? 24) } : undefined
    return yield* (yield* Sessions).start(sandboxId, {
      argv: q.cmd,
      cwd: q.dir,
      env: SpritesExecQuery.envRecord(q.env),
      stdin,
      tty: size,
      maxRunAfterDisconnect: lingerOf(q, config.execLinger),
      kind: "exec"
    })
  })

const clampSize = (n: number) => Math.min(Math.max(Math.trunc(n), 1), 65535)

const view = (session: Session) => {
  const exitCode = session.exited()
  return new SpritesSession.ExecSession({
    id: session.id,
    command: session.command,
    workdir: session.workdir,
    created: session.created.toISOString(),
    bytes_per_second: session.bytesPerSecond(),
    is_active: session.attachments() > 0,
    last_activity: session.lastActivity().toISOString(),
    tty: session.tty,
    exited: exitCode !== undefined,
    ...(exitCode !== undefined ? { exit_code: exitCode } : {}),
    output_bytes: session.log.end
  })
}

/** The exchange owns the connection now: nothing is written as an HTTP response. */
const upgraded = HttpServerResponse.empty()

const encodeKillEvent = Schema.encodeSync(Schema.parseJson(SpritesSession.KillEvent))

/** The HTTP exec body (§2.6): frames without lengths, one per transport chunk. */
const httpExec = ({ reader, session }: Started, scope: Scope.CloseableScope) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (session.stdin) {
      // stdin is the request body; a body that fails midway still ends the command's input
      yield* request.stream.pipe(
        Stream.runForEach((chunk) => session.process.write(chunk)),
        Effect.ignore,
        Effect.zipRight(session.process.endStdin),
        Effect.forkIn(scope)
      )
    }
    const output = Stream.repeatEffectOption(
      Effect.flatMap(session.log.read(reader, 256 * 1024), (chunks) =>
        chunks.length === 0 ? Effect.fail(Option.none()) : Effect.succeed(ExecSocket.framesOf(chunks, false)))
    ).pipe(Stream.flattenIterables)
    const frames = Stream.concat(output, Stream.fromEffect(Effect.map(session.exitCode, SpritesExecFrame.encodeExit))).pipe(
      Stream.ensuring(Scope.close(scope, Exit.void))
    )
    return HttpServerResponse.stream(frames, { contentType: "application/octet-stream" })
  })

export const router = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/v1/sprites/:name/exec",
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const record = yield* sprite
      const sessions = yield* Sessions
      if (!isUpgrade(request)) {
        const list = yield* sessions.list(record.id, "exec")
        return yield* HttpServerResponse.schemaJson(SpritesSession.SessionList)(
          new SpritesSession.SessionList({ sessions: list.map(view) })
        )
      }
      const q = yield* query(SpritesExecQuery.ExecQuery)
      // Started before the upgrade, so a sandbox that is not running is a plain HTTP 409.
      yield* Effect.scoped(Effect.gen(function*() {
        const { reader, session } = yield* startSession(record.id, q, SpritesExecQuery.wantsStdin(q))
        yield* ExecSocket.serve(session, { creator: reader })
      }))
      return upgraded
    })
  ),
  // The Go SDK's version probe (§1.3).
  HttpRouter.route("HEAD")(
    "/v1/sprites/:name/exec",
    Effect.as(sprite, HttpServerResponse.empty({ status: 200, headers: { "Sprite-Version": spriteVersion } }))
  ),
  HttpRouter.post(
    "/v1/sprites/:name/exec",
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const record = yield* sprite
      const q = yield* query(SpritesExecQuery.ExecQuery)
      if (q.tty) return yield* new BadRequest({ message: "HTTP exec has no terminal: use the WebSocket for tty=true" })
      const declared = request.headers["content-length"]
      const hasBody = q.stdin === true || (declared !== undefined && declared !== "0") || request.headers["transfer-encoding"] !== undefined
      // The session's creator stays attached while the response streams, then lets go.
      const scope = yield* Scope.make()
      const started = yield* startSession(record.id, q, hasBody).pipe(
        Scope.extend(scope),
        Effect.tapError(() => Scope.close(scope, Exit.void))
      )
      return yield* httpExec(started, scope)
    })
  ),
  HttpRouter.get(
    "/v1/sprites/:name/exec/:id",
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const record = yield* sprite
      const session = yield* (yield* Sessions).get(record.id, yield* sessionId, "exec")
      if (!isUpgrade(request)) return yield* new BadRequest({ message: "attach needs a WebSocket upgrade (Upgrade: websocket)" })
      const q = yield* query(SpritesExecQuery.AttachQuery)
      yield* ExecSocket.serve(session, { from: q.offset ?? 0, owner: session.attachments() === 0 })
      return upgraded
    })
  ),
  HttpRouter.post(
    "/v1/sprites/:name/exec/:id/kill",
    Effect.gen(function*() {
      const record = yield* sprite
      const sessions = yield* Sessions
      const session = yield* sessions.get(record.id, yield* sessionId, "exec")
      const q = yield* query(SpritesExecQuery.KillQuery)
      const body = yield* Body.json(SpritesExecQuery.KillBody)
      const name = q.signal ?? body.signal ?? "SIGTERM"
      const signal = ExecSocket.signalName(name)
      if (signal === undefined) return yield* new BadRequest({ message: `unknown signal ${JSON.stringify(name)}` })
      const timeout = q.timeout !== undefined
        ? Duration.millis(q.timeout)
        : body.timeout !== undefined
        ? Duration.seconds(body.timeout)
        : Duration.seconds(10)
      const events = yield* sessions.kill(session, signal, timeout)
      return HttpServerResponse.stream(
        Stream.map(events, (event) => new TextEncoder().encode(`${encodeKillEvent(new SpritesSession.KillEvent(event))}\n`)),
        { contentType: "application/x-ndjson" }
      )
    })
  )
)
