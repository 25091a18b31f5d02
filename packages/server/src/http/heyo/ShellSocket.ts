/**
 * `WSS /deployed-sandboxes/{id}/shell-stream` (reference/heyo-api.md §4): an interactive login
 * shell on the sandbox's own terminal, as a session that survives its connection.
 *
 * The first client frame is `init`. Without `sessionId` a shell starts; with one, the shell
 * left by an earlier connection is resumed and every output frame after the last seq the client
 * acknowledged is sent again (clients drop the seqs they already have). A shell without a client
 * waits heyod's `shellGrace` (60 s by default), then ends; resuming it later gets
 * `error{code:"session_expired"}`. Output frames are the session log's chunks with their seqs,
 * so a replayed frame is the same bytes under the same seq.
 */
import { HeyoShell } from "@heyo-effect/protocol"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { Reader } from "../../sessions/OutputLog.js"
import { type Session, Sessions } from "../../sessions/Sessions.js"
import { ServerConfig } from "../../ServerConfig.js"
import * as WebSocketUpgrade from "../WebSocketUpgrade.js"

const encodeText = Schema.encodeSync(Schema.parseJson(HeyoShell.ServerMessage))
const decodeClient = Schema.decodeUnknownOption(HeyoShell.ClientMessageFromJson)

/** Well under the clients' 60 s silence timer. */
const keepaliveEvery = Duration.seconds(20)
const initTimeout = Duration.seconds(30)

/** A login shell: bash where the image has it, else sh. */
const shellArgv = ["/bin/sh", "-c", "if [ -x /bin/bash ]; then exec /bin/bash -l; else exec /bin/sh -l; fi"]

export const serve = (sandboxId: string) =>
  Effect.scoped(Effect.gen(function*() {
    const sessions = yield* Sessions
    const config = yield* ServerConfig
    const socket = yield* WebSocketUpgrade.accept()
    const socketScope = yield* Effect.scope
    const send = (message: HeyoShell.ServerMessage) => socket.send(encodeText(message))
    const fail = (code: string, message: string) =>
      send(new HeyoShell.ErrorMessage({ code, message })).pipe(Effect.zipRight(socket.close(1000)))

    // The messages stream is pulled from one place: first the init, then the loop below.
    const pull = yield* Stream.toPull(socket.messages)
    const first = yield* pull.pipe(
      Effect.map((chunk) => chunk),
      Effect.timeoutOption(initTimeout),
      Effect.orElseSucceed(() => Option.none())
    )
    const init = Option.flatMap(first, (chunk) => {
      const text = [...chunk].find((m): m is string => typeof m === "string")
      return text === undefined ? Option.none() : decodeClient(text)
    })
    if (Option.isNone(init) || init.value.type !== "init") {
      return yield* fail("bad_request", "the first frame must be a JSON init message: {\"type\":\"init\",\"cols\":80,\"rows\":24}")
    }
    const hello = init.value

    let session: Session
    let reader: Reader
    let from: number | undefined = 0
    if (hello.sessionId !== undefined) {
      const found = yield* sessions.get(sandboxId, hello.sessionId, "shell").pipe(Effect.option)
      if (Option.isNone(found) || found.value.exited() !== undefined) {
        return yield* fail("session_expired", `shell session ${hello.sessionId} has ended or expired`)
      }
      session = found.value
      yield* session.resize({ cols: hello.cols, rows: hello.rows })
      yield* sessions.attach(session)
      from = session.log.offsetOfSeq(session.ackedSeq + 1)
      const resumeAt = from ?? session.log.start
      reader = (yield* Effect.acquireRelease(
        Effect.sync(() => session.log.attach(resumeAt)),
        ({ reader }) => Effect.sync(() => session.log.detach(reader))
      )).reader
    } else {
      const started = yield* sessions.start(sandboxId, {
        argv: shellArgv,
        cwd: hello.cwd,
        env: hello.env,
        stdin: true,
        tty: { cols: hello.cols, rows: hello.rows },
        maxRunAfterDisconnect: Option.some(config.shellGrace),
        kind: "shell"
      }).pipe(Effect.either)
      if (started._tag === "Left") return yield* fail("start_failed", started.left.message)
      session = started.right.session
      reader = started.right.reader
    }

    yield* send(new HeyoShell.Ready({ sessionId: session.id, lastSeq: session.log.lastSeq }))
    if (from === undefined) {
      yield* send(new HeyoShell.ErrorMessage({
        code: "output_lost",
        message: "output after your last acknowledged frame scrolled out of the shell's buffer while you were away"
      }))
    }

    const output = Effect.gen(function*() {
      while (true) {
        const chunks = yield* session.log.read(reader, 256 * 1024)
        if (chunks.length === 0) break
        for (const chunk of chunks) yield* socket.send(HeyoShell.encodeStdout(chunk.seq, chunk.data))
      }
      yield* send(new HeyoShell.Exit({ code: yield* session.exitCode }))
      yield* socket.close(1000)
    })
    const keepalive = send(new HeyoShell.Keepalive()).pipe(
      Effect.delay(keepaliveEvery),
      Effect.forever
    )

    const onMessage = (message: string | Uint8Array): Effect.Effect<void> => {
      if (typeof message !== "string") {
        const data = HeyoShell.decodeStdin(message)
        return data === undefined || data.byteLength === 0 ? Effect.void : session.process.write(data)
      }
      const parsed = decodeClient(message)
      if (Option.isNone(parsed)) return Effect.void
      const m = parsed.value
      switch (m.type) {
        case "resize":
          return session.resize({ cols: m.cols, rows: m.rows })
        case "ack":
          return Effect.sync(() => {
            session.ackedSeq = Math.max(session.ackedSeq, Math.min(m.seq, session.log.lastSeq))
          })
        case "close":
          // The client is done with the shell: hang it up, and SIGKILL it `killGrace` later if a
          // program in it survives the hang-up; its exit is then reported.
          return sessions.kill(session, "SIGHUP", config.killGrace).pipe(
            Effect.flatMap(Stream.runDrain),
            Effect.ignore,
            Effect.forkIn(socketScope),
            Effect.asVoid
          )
        case "init":
          return Effect.void
      }
    }

    yield* Effect.forkScoped(output)
    yield* Effect.forkScoped(keepalive)
    yield* Stream.runForEach(Stream.fromPull(Effect.succeed(pull)), onMessage).pipe(Effect.ignore)
  }))
