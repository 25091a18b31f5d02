/**
 * The fs routes cannot reach the host. Read, write, delete, rename, chmod and watch aimed at
 * `../../etc/passwd`, `/proc/1/root/etc/shadow`, a symlink to `/` and a symlink swapped back and
 * forth while the calls run: each call either fails with a typed error or acts on the sandbox's
 * own files, and no host file is read or changed (host canaries keep their content, mode and
 * existence; host system files keep their hash).
 */
import { assert, describe, it } from "@effect/vitest"
import { Commands, Files, Sandbox } from "@heyo-effect/sdk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { afterAll, beforeAll, expect } from "vitest"
import * as Heyod from "../support/Heyod.js"
import * as SdkClient from "./SdkClient.js"

const sha = (file: string) => {
  try {
    return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex")
  } catch (error) {
    return `unreadable: ${(error as Error).message}`
  }
}

const hostFiles = ["/etc/passwd", "/etc/shadow", "/etc/hostname", "/etc/hosts"]
const tag = crypto.randomBytes(4).toString("hex")
/** Host-only files: they exist on the host, never in the sandbox. */
const canary = `/tmp/heyo-canary-${tag}`
const canaryDir = `/tmp/heyo-canary-dir-${tag}`
const canaryContent = `host canary ${tag}\n`

describe("no escape through the fs routes", () => {
  let heyod: Heyod.Heyod
  let id: string
  const before = new Map<string, string>()
  beforeAll(async () => {
    for (const file of hostFiles) before.set(file, sha(file))
    fs.writeFileSync(canary, canaryContent, { mode: 0o644 })
    fs.mkdirSync(canaryDir, { recursive: true })
    heyod = await Heyod.start()
    id = await Effect.runPromise(
      Sandbox.create({ name: "e2e-escape" }).pipe(Effect.map((s) => s.id as string), Effect.provide(SdkClient.layer(heyod)))
    )
    await Effect.runPromise(
      Commands.runOrFail(id, "echo 'sandbox-only:x:4242:4242::/:/bin/sh' >> /etc/passwd && ln -s / /workspace/rootlink")
        .pipe(Effect.provide(SdkClient.layer(heyod)))
    )
  })
  afterAll(async () => {
    if (heyod !== undefined) await heyod.stop()
    // the host is untouched: system files, the canary's content and mode, no stray files
    for (const file of hostFiles) expect(sha(file)).toBe(before.get(file))
    expect(fs.readFileSync(canary, "utf8")).toBe(canaryContent)
    expect(fs.statSync(canary).mode & 0o7777).toBe(0o644)
    expect(fs.readdirSync(canaryDir)).toEqual([])
    expect(fs.readdirSync("/tmp").filter((name) => name.includes(`escape-${tag}`))).toEqual([])
    fs.rmSync(canary, { force: true })
    fs.rmSync(canaryDir, { recursive: true, force: true })
  })
  const run = <A, E>(effect: Effect.Effect<A, E, Files.Files | Commands.Commands | Sandbox.Sandbox>) =>
    effect.pipe(Effect.provide(SdkClient.layer(heyod)))
  const sandboxText = (path: string) => Effect.map(Commands.runOrFail(id, `cat '${path}'`), (r) => r.stdout)

  /** Every way to name a host path from the sandbox. */
  const aliases = (hostPath: string) => [
    `../../..${hostPath}`,
    `/proc/1/root${hostPath}`,
    `/proc/self/root${hostPath}`,
    `rootlink${hostPath}`,
    `/workspace/rootlink/../../..${hostPath}`
  ]

  it.live("reads get the sandbox's own files, never the host's", () =>
    run(Effect.gen(function*() {
      const hostPasswd = fs.readFileSync("/etc/passwd", "utf8")
      const ownPasswd = yield* sandboxText("/etc/passwd")
      assert.include(ownPasswd, "sandbox-only:x:4242")
      for (const path of aliases("/etc/passwd")) {
        const text = yield* Files.readText(id, path)
        assert.strictEqual(text, ownPasswd, path)
        assert.notStrictEqual(text, hostPasswd, path)
      }
      const ownShadow = yield* sandboxText("/etc/shadow")
      for (const path of aliases("/etc/shadow")) {
        const text = yield* Files.readText(id, path)
        assert.strictEqual(text, ownShadow, path)
        assert.notStrictEqual(text, fs.readFileSync("/etc/shadow", "utf8"), path)
      }
      for (const path of aliases(canary)) {
        assert.strictEqual((yield* Effect.flip(Files.read(id, path)))._tag, "FileNotFound", path)
        assert.strictEqual((yield* Effect.flip(Files.readStream(id, path).pipe(Stream.runDrain)))._tag, "FileNotFound", path)
      }
    })))

  it.live("writes, deletes, renames and chmods act inside the sandbox or fail", () =>
    run(Effect.gen(function*() {
      for (const [i, path] of aliases("/etc/passwd").entries()) {
        yield* Files.write(id, path, `written ${i}\n`)
        assert.strictEqual(yield* sandboxText("/etc/passwd"), `written ${i}\n`)
        yield* Files.chmod(id, path, 0o600)
      }
      for (const path of aliases(`/tmp/escape-${tag}`)) {
        yield* Files.write(id, path, "inside")
        assert.isTrue(yield* Files.exists(id, `/tmp/escape-${tag}`))
        yield* Files.rename(id, path, `/tmp/escape-${tag}-renamed`)
        yield* Files.remove(id, `/tmp/escape-${tag}-renamed`)
      }
      for (const path of aliases(canary)) {
        assert.strictEqual((yield* Effect.flip(Files.remove(id, path)))._tag, "FileNotFound", path)
        assert.strictEqual((yield* Effect.flip(Files.rename(id, path, "/workspace/stolen")))._tag, "FileNotFound", path)
        assert.strictEqual((yield* Effect.flip(Files.chmod(id, path, 0o777)))._tag, "FileNotFound", path)
        assert.strictEqual((yield* Effect.flip(Files.chown(id, path, { uid: 0 })))._tag, "FileNotFound", path)
        assert.strictEqual((yield* Effect.flip(Files.copy(id, path, "/workspace/stolen")))._tag, "FileNotFound", path)
      }
      for (const path of aliases(canaryDir)) {
        // mkdir -p through any alias builds the path inside the sandbox, never in the host's dir
        yield* Files.write(id, `${path}/escape-${tag}`, "x")
      }
      assert.isTrue(yield* Files.exists(id, `${canaryDir}/escape-${tag}`))
      assert.deepStrictEqual(fs.readdirSync(canaryDir), [])
      // deleting through the symlink to / removes the link, never what it points to
      yield* Commands.runOrFail(id, "ln -s / /workspace/rootlink2")
      yield* Files.remove(id, "/workspace/rootlink2", { recursive: true })
      assert.isTrue(yield* Files.exists(id, "/etc/passwd"))
      assert.strictEqual(yield* sandboxText("/workspace/rootlink/etc/hostname"), yield* sandboxText("/etc/hostname"))
    })))

  it.live("a watch on a host path watches the sandbox's path or fails", () =>
    run(Effect.gen(function*() {
      for (const path of aliases(canaryDir)) {
        // the sandbox has its own (created above): the watch sees only the sandbox's changes
        const fiber = yield* Files.watch(id, path).pipe(
          Stream.take(1),
          Stream.runCollect,
          Effect.timeout("10 seconds"),
          Effect.fork
        )
        yield* Effect.sleep("800 millis")
        fs.writeFileSync(`${canaryDir}/host-side`, "host")
        fs.rmSync(`${canaryDir}/host-side`)
        yield* Files.write(id, `${canaryDir}/sandbox-side`, "sandbox")
        const [event] = yield* fiber.await.pipe(Effect.flatten)
        // named as the subscription named it, seen only for the sandbox's own write
        assert.isTrue(event?.path.endsWith(`${canaryDir}/sandbox-side`), `${path}: ${event?.path}`)
        yield* Files.remove(id, `${canaryDir}/sandbox-side`)
      }
      for (const path of aliases(`${canary}-missing-dir`)) {
        const error = yield* Effect.flip(Files.watch(id, path).pipe(Stream.runDrain, Effect.timeout("10 seconds")))
        assert.strictEqual(error._tag, "FileNotFound", path)
      }
    })), 60_000)

  it.live("a symlink swapped between / and a sandbox dir during the calls never reaches the host", () =>
    run(Effect.gen(function*() {
      // a sandbox process flips /workspace/swap between a symlink to / and a plain directory
      yield* Commands.runOrFail(
        id,
        "mkdir -p /workspace/plain/tmp; (while true; do ln -sfn / /workspace/swap.new && mv -T /workspace/swap.new /workspace/swap; " +
          "ln -sfn /workspace/plain /workspace/swap.new && mv -T /workspace/swap.new /workspace/swap; done) " +
          ">/dev/null 2>&1 & echo $! > /workspace/swapper.pid"
      )
      for (let i = 0; i < 20; i++) {
        const target = `swap${canary}`
        const read = yield* Effect.either(Files.readText(id, target))
        if (read._tag === "Right") assert.fail(`read a host-named file through the swapped link: ${read.right}`)
        else assert.strictEqual(read.left._tag, "FileNotFound")
        const written = yield* Effect.either(Files.write(id, `swap/tmp/escape-${tag}-${i}`, "x"))
        if (written._tag === "Left") assert.include(["FileNotFound", "NotADirectory"], written.left._tag, written.left.message)
        yield* Effect.either(Files.chmod(id, `swap${canary}`, 0o777))
        yield* Effect.either(Files.remove(id, `swap${canary}`))
        yield* Effect.either(Files.rename(id, `swap${canary}`, "/workspace/x"))
      }
      yield* Commands.run(id, "kill $(cat /workspace/swapper.pid)")
    })), 120_000)
})
