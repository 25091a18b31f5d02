/**
 * Processes, sessions, terminals and shells end to end: Commands.spawn / sessions / attach /
 * kill and Shell.open -> heyod -> real sandboxes.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Commands, HeyoClient, Sandbox, Shell } from "@heyo-effect/sdk"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { afterAll, beforeAll } from "vitest"
import * as FlakyProxy from "../support/FlakyProxy.js"
import * as Heyod from "../support/Heyod.js"
import * as SdkClient from "./SdkClient.js"

const KEY = "sessions-key"
const text = (chunks: Iterable<Uint8Array>) => Buffer.concat([...chunks]).toString("utf8")

/** Reads `stream` until its text so far matches `pattern`; gives the text and the bytes read. */
const readUntil = <E>(stream: Stream.Stream<Uint8Array, E>, pattern: RegExp) =>
  Effect.suspend(() => {
    let seen = ""
    let bytes = 0
    return stream.pipe(
      Stream.takeUntil((chunk) => {
        seen += Buffer.from(chunk).toString("utf8")
        bytes += chunk.byteLength
        return pattern.test(seen)
      }),
      Stream.runDrain,
      Effect.map(() => ({ seen, bytes })),
      Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error(`no ${pattern} in ${JSON.stringify(seen)}`) })
    )
  })

const running = (sandboxId: string, pattern: string) =>
  Commands.run(sandboxId, `pgrep -f '${pattern}' >/dev/null && echo yes || echo no`).pipe(Effect.map((r) => r.stdout.trim() === "yes"))

describe("sessions, terminals and shells against heyod", () => {
  let heyod: Heyod.Heyod
  let sandboxId: string
  beforeAll(async () => {
    heyod = await Heyod.start({
      apiKey: KEY,
      args: ["--exec-linger", "1s", "--shell-grace", "5s", "--kill-grace", "500ms", "--session-retention", "30s"]
    })
    sandboxId = await Effect.runPromise(
      Sandbox.create({ name: "e2e-sessions" }).pipe(Effect.map((s) => s.id as string), Effect.provide(SdkClient.layer(heyod)))
    )
  }, 60_000)
  afterAll(async () => {
    if (heyod !== undefined) await heyod.stop()
  })

  it.live("signal(TERM) ends a spawned process with the shell's exit code", () =>
    Effect.gen(function*() {
      const process = yield* Commands.spawn(sandboxId, "echo ready; exec sleep 1001")
      yield* readUntil(process.stdout, /ready/)
      yield* process.signal("TERM")
      assert.strictEqual(yield* process.exitCode, 143)
    }).pipe(Effect.scoped, Effect.provide(SdkClient.layer(heyod))))

  it.live("closing a spawn's Scope ends the command; write and closeStdin reach it", () =>
    Effect.gen(function*() {
      const echoed = yield* Effect.scoped(Effect.gen(function*() {
        const cat = yield* Commands.spawn(sandboxId, "cat")
        yield* cat.write("over the wire\n")
        yield* cat.closeStdin
        const out = yield* Stream.runCollect(cat.stdout)
        return { out: text(out), code: yield* cat.exitCode }
      }))
      assert.deepStrictEqual(echoed, { out: "over the wire\n", code: 0 })
      yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Commands.spawn(sandboxId, "echo up; exec sleep 1002")
        yield* readUntil(process.stdout, /up/)
        assert.isTrue(yield* running(sandboxId, "^sleep 1002$"))
      }))
      assert.isFalse(yield* running(sandboxId, "^sleep 1002$"), "sleep 1002 outlived its Scope")
    }).pipe(Effect.provide(SdkClient.layer(heyod))))

  it.live("a terminal: tty prints /dev/pts/N, stty size follows resize, Ctrl-C interrupts the foreground sleep", () =>
    Effect.gen(function*() {
      const process = yield* Commands.spawn(
        sandboxId,
        "tty; stty size; read line; stty size; trap 'echo trapped' INT; sleep 1003; echo done-$?",
        { tty: { cols: 100, rows: 30 } }
      )
      const first = yield* readUntil(process.stdout, /30 100\r?\n/)
      assert.match(first.seen, /^\/dev\/pts\/\d+\r?\n/m)
      yield* process.resize(120, 40)
      yield* process.write("\n")
      yield* readUntil(process.stdout, /40 120\r?\n/)
      // the sleep is in the foreground once the shell reached it
      for (let i = 0; i < 50 && !(yield* running(sandboxId, "^sleep 1003$")); i++) yield* Effect.sleep("100 millis")
      yield* process.write("\x03")
      const rest = yield* readUntil(process.stdout, /done-130/)
      assert.include(rest.seen, "trapped")
      assert.strictEqual(yield* process.exitCode, 0)
    }).pipe(Effect.scoped, Effect.provide(SdkClient.layer(heyod))))

  it.live("detach a TTY session, let it print, re-attach from the offset: no duplicate, no gap", () =>
    Effect.gen(function*() {
      const script = "for i in $(seq 1 150); do echo line-$i; sleep 0.01; done"
      const { sessionId, seen, bytes } = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Commands.spawn(sandboxId, script, { tty: true, detachable: true })
        const head = yield* readUntil(process.stdout, /line-20\r\n/)
        yield* process.detach
        return { sessionId: process.sessionId, ...head }
      }))
      const listed = yield* Commands.sessions(sandboxId)
      const session = listed.find((s) => s.id === sessionId)
      assert.isDefined(session)
      assert.isTrue(session!.tty)
      yield* Effect.sleep("600 millis")
      const events = yield* Stream.runCollect(Commands.attach(sandboxId, sessionId, { offset: bytes }))
      const tail = text(Chunk.toReadonlyArray(events).flatMap((e) => e._tag === "Stdout" ? [e.data] : []))
      const exit = Chunk.toReadonlyArray(events).find((e) => e._tag === "Exit")
      assert.deepStrictEqual(exit?._tag === "Exit" ? exit.exitCode : undefined, 0)
      const lines = (seen + tail).split("\r\n").filter((l) => l !== "")
      assert.deepStrictEqual(lines, Array.from({ length: 150 }, (_, i) => `line-${i + 1}`))
    }).pipe(Effect.provide(SdkClient.layer(heyod))))

  it.live("kill: a running session ends with its code; an exited one is not an error", () =>
    Effect.gen(function*() {
      const sessionId = yield* Effect.scoped(Effect.gen(function*() {
        const process = yield* Commands.spawn(sandboxId, "echo on; exec sleep 1004", { detachable: true })
        yield* readUntil(process.stdout, /on/)
        yield* process.detach
        return process.sessionId
      }))
      assert.deepStrictEqual(yield* Commands.kill(sandboxId, sessionId, { signal: "TERM", timeout: "5 seconds" }), Option.some(143))
      assert.deepStrictEqual(yield* Commands.kill(sandboxId, sessionId), Option.none())
      const unknown = yield* Commands.kill(sandboxId, "999999").pipe(Effect.flip)
      assert.strictEqual(unknown._tag, "NotFound")
    }).pipe(Effect.provide(SdkClient.layer(heyod))))

  it.live("a shell survives 20 dropped connections: every line once, in order, each drop a Reconnecting/Reconnected pair", () =>
    Effect.gen(function*() {
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => FlakyProxy.start(heyod.port)), (p) => Effect.promise(() => p.close()))
      const client = Shell.layer.pipe(
        Layer.provide(HeyoClient.layer({ baseUrl: proxy.url, apiKey: Redacted.make(KEY) })),
        Layer.provide(NodeHttpClient.layerUndici)
      )
      yield* Effect.gen(function*() {
        const shell = yield* Shell.open(sandboxId, { cols: 120, rows: 40 })
        const events = yield* Stream.runCollect(shell.events).pipe(Effect.fork)
        const output = yield* shell.output.pipe(Stream.runFold("", (all, chunk) => all + Buffer.from(chunk).toString("utf8")), Effect.fork)
        yield* shell.write("for i in $(seq 1 400); do echo n-$i; sleep 0.015; done; exit\n")
        for (let cut = 0; cut < 20; cut++) {
          yield* Effect.sleep("250 millis")
          proxy.cutAll()
        }
        const all = yield* Fiber.join(output)
        // terminal control sequences (bracketed paste on/off) aside, one number per line
        const plain = all.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "")
        const seen = plain.split(/[\r\n]+/).flatMap((line) => /^n-(\d+)$/.exec(line)?.[1] ?? [])
        assert.deepStrictEqual(seen.map(Number), Array.from({ length: 400 }, (_, i) => i + 1))
        const tags = Chunk.toReadonlyArray(yield* Fiber.join(events)).map((e) => e._tag)
        assert.strictEqual(tags.filter((t) => t === "Reconnected").length, 20)
        assert.isAtLeast(tags.filter((t) => t === "Reconnecting").length, 20)
        assert.strictEqual(tags[tags.length - 1], "Closed")
        assert.strictEqual(yield* shell.exitCode, 0)
      }).pipe(Effect.provide(client))
    }).pipe(Effect.scoped), 60_000)
})
