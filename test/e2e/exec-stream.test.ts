/**
 * Streaming exec end to end: Commands.stream -> heyod's Sprites-dialect exec WebSocket -> a real
 * sandbox. Byte-exact output at size, stdin through `cat`, exit codes, interruption killing the
 * remote process, and upgrade refusals as typed errors.
 */
import { assert, describe, it } from "@effect/vitest"
import { Commands, ExecEvent, HeyoClient, Sandbox } from "@heyo-effect/sdk"
import * as Effect from "effect/Effect"
import * as esbuild from "esbuild"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { execFile } from "node:child_process"
import * as crypto from "node:crypto"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll } from "vitest"
import * as Heyod from "../support/Heyod.js"
import * as SdkClient from "./SdkClient.js"

const KEY = "exec-stream-key"

interface Collected {
  readonly stdout: string
  readonly stderr: string
  readonly exitCode: number | undefined
  readonly stdoutSha: string
  readonly stdoutBytes: number
  readonly order: ReadonlyArray<ExecEvent.ExecEvent["_tag"]>
}

/** Folds a stream, hashing stdout rather than holding it. */
const collect = <E, R>(events: Stream.Stream<ExecEvent.ExecEvent, E, R>, keepText = true) =>
  Effect.suspend(() => {
    const hash = crypto.createHash("sha256")
    let stdout = ""
    let stderr = ""
    let stdoutBytes = 0
    let exitCode: number | undefined
    const order: Array<ExecEvent.ExecEvent["_tag"]> = []
    return events.pipe(
      Stream.runForEach((event) =>
        Effect.sync(() => {
          if (order[order.length - 1] !== event._tag) order.push(event._tag)
          ExecEvent.$match(event, {
            Stdout: ({ data }) => {
              hash.update(data)
              stdoutBytes += data.byteLength
              if (keepText) stdout += Buffer.from(data).toString()
            },
            Stderr: ({ data }) => void (stderr += Buffer.from(data).toString()),
            Exit: (e) => void (exitCode = e.exitCode),
            OutputLost: (e) => void (stderr += `[lost ${e.from}-${e.to}]`)
          })
        })
      ),
      Effect.map((): Collected => ({ stdout, stderr, exitCode, order, stdoutBytes, stdoutSha: hash.digest("hex") }))
    )
  })

describe("Commands.stream against heyod", () => {
  let heyod: Heyod.Heyod
  let sandboxId: string
  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY })
    sandboxId = await Effect.runPromise(
      Sandbox.create({ name: "e2e-exec-stream", sizeClass: "small" }).pipe(
        Effect.map((s) => s.id as string),
        Effect.provide(SdkClient.layer(heyod))
      )
    )
  })
  afterAll(async () => {
    if (heyod !== undefined) await heyod.stop()
  })

  it.live("stdout and stderr interleaved yet kept apart, with the exit code", () =>
    Effect.gen(function*() {
      const out = yield* collect(Commands.stream(
        sandboxId,
        "for i in 1 2 3; do echo out$i; sleep 0.05; echo err$i >&2; sleep 0.05; done; exit 4"
      ))
      assert.strictEqual(out.stdout, "out1\nout2\nout3\n")
      assert.strictEqual(out.stderr, "err1\nerr2\nerr3\n")
      assert.strictEqual(out.exitCode, 4)
      assert.deepStrictEqual(out.order, ["Stdout", "Stderr", "Stdout", "Stderr", "Stdout", "Stderr", "Exit"])
    }).pipe(Effect.provide(SdkClient.layer(heyod))))

  it.live("exit codes 0, 1, 255; args, cwd and env reach the command", () =>
    Effect.gen(function*() {
      for (const code of [0, 1, 255]) {
        const out = yield* collect(Commands.stream(sandboxId, `exit ${code}`))
        assert.strictEqual(out.exitCode, code)
      }
      const out = yield* collect(Commands.stream(sandboxId, "echo \"$1|$2|$(pwd)|$GREETING\"", {
        args: ["a b", "c"],
        cwd: "/tmp",
        env: { GREETING: "hello" }
      }))
      assert.strictEqual(out.stdout, "a b|c|/tmp|hello\n")
    }).pipe(Effect.provide(SdkClient.layer(heyod))))

  it.live("16 MiB through stdin and back via cat, byte-exact", () =>
    Effect.gen(function*() {
      const input = crypto.randomBytes(16 * 1024 * 1024)
      const chunks = Array.from({ length: 256 }, (_, i) => new Uint8Array(input.subarray(i * 65536, (i + 1) * 65536)))
      const out = yield* collect(Commands.stream(sandboxId, "cat", { stdin: Stream.fromIterable(chunks) }), false)
      assert.strictEqual(out.exitCode, 0)
      assert.strictEqual(out.stdoutBytes, input.length)
      assert.strictEqual(out.stdoutSha, crypto.createHash("sha256").update(input).digest("hex"))
    }).pipe(Effect.provide(SdkClient.layer(heyod))), 120_000)

  it.live("64 MiB of stdout, byte-exact", () =>
    Effect.gen(function*() {
      // A reproducible stream: the sha256 of the same command's output computed in the sandbox.
      const command = "head -c 67108864 /dev/zero | tr '\\000' 'heyo' "
      const expected = yield* Commands.run(sandboxId, `${command} | sha256sum | cut -d' ' -f1`)
      const out = yield* collect(Commands.stream(sandboxId, command), false)
      assert.strictEqual(out.exitCode, 0)
      assert.strictEqual(out.stdoutBytes, 64 * 1024 * 1024)
      assert.strictEqual(out.stdoutSha, expected.stdout.trim())
    }).pipe(Effect.provide(SdkClient.layer(heyod))), 120_000)

  it.live("interrupting the consumer of sleep 1000 kills it within 2 s", () =>
    Effect.gen(function*() {
      const fiber = yield* Commands.stream(sandboxId, "echo started; exec sleep 1000").pipe(Stream.runDrain, Effect.fork)
      // Anchored: the sandbox's init is a `sleep infinity`, and the checking shell names the pattern.
      const running = yield* Commands.run(sandboxId, "for i in $(seq 50); do pgrep -f '^sleep 1000$' >/dev/null && break; sleep 0.1; done; pgrep -f '^sleep 1000$'")
      assert.notStrictEqual(running.stdout.trim(), "", "sleep never started")
      yield* Fiber.interrupt(fiber)
      const started = Date.now()
      const gone = yield* Commands.run(sandboxId, "for i in $(seq 40); do pgrep -f '^sleep 1000$' >/dev/null || exit 0; sleep 0.05; done; exit 1")
      assert.strictEqual(gone.exitCode, 0, "sleep 1000 still running 2 s after the interrupt")
      assert.isBelow(Date.now() - started, 2_500)
    }).pipe(Effect.provide(SdkClient.layer(heyod))))

  it.live("an unknown sandbox is NotFound", () =>
    Effect.gen(function*() {
      const error = yield* Commands.stream("sb-doesnotexist", "true").pipe(Stream.runDrain, Effect.flip)
      assert.strictEqual(error._tag, "NotFound")
      assert.include(error.message, "sb-doesnotexist")
    }).pipe(Effect.provide(SdkClient.layer(heyod))))

  it.live("a wrong key is Authentication, from the capabilities read and from the upgrade itself", () =>
    Effect.gen(function*() {
      const wrong = SdkClient.layer(heyod, { apiKey: "wrong" })
      const viaStream = yield* Commands.stream(sandboxId, "true").pipe(Stream.runDrain, Effect.flip, Effect.provide(wrong))
      assert.strictEqual(viaStream._tag, "Authentication")
      const viaUpgrade = yield* HeyoClient.HeyoClient.pipe(
        Effect.flatMap((client) => client.webSocket({ path: `/v1/sprites/${sandboxId}/exec`, query: [["cmd", "true"]] })),
        Effect.scoped,
        Effect.flip,
        Effect.provide(wrong)
      )
      assert.strictEqual(viaUpgrade._tag, "Authentication")
      assert.include(viaUpgrade.message, "invalid API key")
    }))
})

describe("a slow consumer", () => {
  let heyod: Heyod.Heyod
  let sandboxId: string
  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY })
    sandboxId = await Effect.runPromise(
      Sandbox.create({ name: "e2e-slow-consumer", sizeClass: "medium" }).pipe(
        Effect.map((s) => s.id as string),
        Effect.provide(SdkClient.layer(heyod))
      )
    )
  }, 60_000)
  afterAll(async () => {
    if (heyod !== undefined) await heyod.stop()
  })

  it.live("reading 64 MiB slowly keeps the consumer's peak memory (VmHWM) under 256 MB, byte-exact", () =>
    Effect.gen(function*() {
      const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures/slowConsumer.ts")
      const bundle = path.join(Heyod.makeTempDir("slow-consumer-"), "slowConsumer.mjs")
      yield* Effect.promise(() =>
        esbuild.build({
          entryPoints: [fixture],
          bundle: true,
          platform: "node",
          format: "esm",
          outfile: bundle,
          logLevel: "error",
          // bundled CommonJS dependencies (ws) call require
          banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" }
        })
      )
      const out = yield* Effect.promise(() =>
        new Promise<string>((resolve, reject) =>
          execFile(process.execPath, [bundle, heyod.url, KEY, sandboxId], { maxBuffer: 1 << 20 }, (error, stdout, stderr) =>
            error === null ? resolve(stdout) : reject(new Error(`${error.message}\n${stderr}`)))
        )
      )
      const result = JSON.parse(out.trim().split("\n").pop()!) as { bytes: number; exitCode: number; sha: string; vmHwmKb: number }
      assert.strictEqual(result.exitCode, 0)
      assert.strictEqual(result.bytes, 64 * 1024 * 1024)
      const expected = yield* Commands.run(sandboxId, "sha256sum /tmp/slow.bin | cut -d' ' -f1")
      assert.strictEqual(result.sha, expected.stdout.trim())
      assert.isBelow(result.vmHwmKb * 1024, 256 * 1024 * 1024, `peak memory ${Math.round(result.vmHwmKb / 1024)} MiB`)
    }).pipe(Effect.provide(SdkClient.layer(heyod))), 120_000)
})
