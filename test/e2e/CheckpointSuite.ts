/**
 * Checkpoints end to end, shared by the btrfs file (checkpoint.test.ts) and the plain-directory
 * fallback (checkpoint-dir.test.ts): SDK -> heyod's Sprites checkpoint routes -> real snapshots
 * of a real sandbox's filesystem, with a writer running while the checkpoint is taken.
 */
import { assert, describe, it } from "@effect/vitest"
import { Checkpoint, Commands, HeyoError, Sandbox } from "@heyo-effect/sdk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import * as Heyod from "../support/Heyod.js"
import * as SdkClient from "./SdkClient.js"

export interface SuiteOptions {
  readonly name: string
  /** heyod flags, e.g. `["--storage", "dir"]`. */
  readonly args: ReadonlyArray<string>
  /** "btrfs" or "dir": what /capabilities-independent checks expect of the store. */
  readonly storage: "btrfs" | "dir"
  /** Checkpoints taken in a row on one sandbox. */
  readonly many: number
  /** MiB of incompressible data in the sandbox when checkpoints are taken. */
  readonly dataMiB: number
}

const run = (id: string, command: string) =>
  Commands.runOrFail(id, command).pipe(Effect.map((r) => r.stdout))

/** sha256 of every file under a directory, sorted: equal listings mean equal trees. */
const treeHash = (id: string, dir: string) =>
  run(id, `cd ${dir} && find . -type f -print0 | sort -z | xargs -0 -r sha256sum; find . | sort`)

/**
 * A writer that never stops: each round replaces `counter` (write + rename) then appends the
 * same number to `log`. A consistent copy has a log of whole lines 1..m and a counter of m or m+1.
 */
const startWriter = (id: string) =>
  run(
    id,
    "mkdir -p /workspace/w && cd /workspace/w && rm -f counter log && " +
      "nohup sh -c 'i=0; while :; do i=$((i+1)); echo $i > counter.tmp && mv counter.tmp counter; echo $i >> log; done' " +
      ">/dev/null 2>&1 &"
  )

const writerState = (id: string) =>
  Effect.gen(function*() {
    const counter = Number((yield* run(id, "cat /workspace/w/counter")).trim())
    const log = yield* run(id, "cat /workspace/w/log")
    return { counter, log }
  })

const assertConsistent = (state: { readonly counter: number; readonly log: string }) => {
  assert.isTrue(state.log.endsWith("\n"), "the log ends with a whole line")
  const lines = state.log.trimEnd().split("\n").map(Number)
  lines.forEach((n, i) => assert.strictEqual(n, i + 1, `log line ${i + 1}`))
  const m = lines.length
  assert.isTrue(m > 0, "the writer had written before the checkpoint")
  assert.isTrue(state.counter === m || state.counter === m + 1, `counter ${state.counter} vs ${m} log lines`)
}

export const suite = (options: SuiteOptions) =>
  describe(options.name, () => {
    let heyod: Heyod.Heyod
    let id: string
    const provide = <A, E>(effect: Effect.Effect<A, E, Sandbox.Sandbox | Commands.Commands | Checkpoint.Checkpoint>) =>
      Effect.provide(effect, SdkClient.layer(heyod))
    const checkpointDir = (sandboxId: string) => path.join(heyod.dataDir, "state", "checkpoints", sandboxId)

    beforeAll(async () => {
      heyod = await Heyod.start({ args: options.args })
      id = await Effect.runPromise(provide(Sandbox.create({ name: `ck-${options.storage}` }).pipe(Effect.map((s) => s.id))))
    })
    afterAll(async () => {
      if (heyod !== undefined) await heyod.stop()
    })

    it.live("a checkpoint taken while a writer runs restores exactly, and the writer's files are consistent", () =>
      provide(Effect.gen(function*() {
        yield* run(
          id,
          `mkdir -p /workspace/tree/sub && cd /workspace/tree && head -c ${options.dataMiB}M /dev/urandom > big && ` +
            "echo alpha > a.txt && echo beta > sub/b.txt && ln -s a.txt link && sync"
        )
        yield* startWriter(id)
        yield* Effect.sleep("300 millis")
        const before = yield* treeHash(id, "/workspace/tree")

        const events = yield* Stream.runCollect(Checkpoint.createStream(id, { comment: "with a writer" }))
        const last = [...events].at(-1)
        assert.strictEqual(last?._tag, "Complete")
        assert.isTrue(last?._tag === "Complete" && last.checkpointId._tag === "Some")
        const ckId = last?._tag === "Complete" && last.checkpointId._tag === "Some" ? last.checkpointId.value : ""
        assert.match(ckId, /^v\d+$/)
        assert.isTrue([...events].some((e) => e._tag === "Info"), "progress came as Info events")

        const info = yield* Checkpoint.get(id, ckId)
        assert.strictEqual(info.comment, "with a writer")
        assert.isFalse(info.isAuto)

        // change everything: a file rewritten, one deleted, one added, the big one truncated
        yield* run(id, "cd /workspace/tree && echo changed > a.txt && rm sub/b.txt && echo new > c.txt && : > big && rm link")
        assert.notStrictEqual(yield* treeHash(id, "/workspace/tree"), before)

        const restoreEvents = yield* Stream.runCollect(Checkpoint.restoreStream(id, ckId))
        assert.strictEqual([...restoreEvents].at(-1)?._tag, "Complete")
        const info2 = yield* Sandbox.info(id)
        assert.strictEqual(info2.status, "running")
        assert.strictEqual(yield* treeHash(id, "/workspace/tree"), before)
        // the restart killed the writer: its files are as the checkpoint froze them
        const frozen = yield* writerState(id)
        assertConsistent(frozen)
        yield* Effect.sleep("200 millis")
        assert.deepStrictEqual(yield* writerState(id), frozen, "no writer survived the restore")
      })), 120_000)

    it.live(`${options.many} checkpoints on one sandbox, each restorable`, () =>
      provide(Effect.gen(function*() {
        const ids: Array<string> = []
        for (let i = 0; i < options.many; i++) {
          yield* run(id, `echo ${i} > /workspace/round`)
          ids.push((yield* Checkpoint.create(id, { comment: `round ${i}` })).id)
        }
        assert.strictEqual(new Set(ids).size, options.many, "every id is new")
        const listed = yield* Checkpoint.list(id)
        for (const ck of ids) assert.isTrue(listed.some((l) => l.id === ck), `${ck} is listed`)
        // newest first, each descending from the one before
        const newest = listed[0]!
        assert.strictEqual(newest.id, ids.at(-1))
        assert.strictEqual(newest.sourceId, ids.at(-2))
        assert.strictEqual(newest.history[0], ids.at(-2))
        const middle = Math.floor(options.many / 2)
        yield* Checkpoint.restore(id, ids[middle]!)
        assert.strictEqual((yield* run(id, "cat /workspace/round")).trim(), String(middle))
        yield* Checkpoint.restore(id, ids.at(-1)!)
        assert.strictEqual((yield* run(id, "cat /workspace/round")).trim(), String(options.many - 1))
        assert.strictEqual(fs.readdirSync(checkpointDir(id)).filter((n) => !n.startsWith(".")).length, listed.length)
      })), 300_000)

    it.live("an unknown checkpoint: an error line in a 200 stream on the wire, NotFound in the SDK", () =>
      provide(Effect.gen(function*() {
        const response = yield* Effect.promise(() =>
          fetch(`${heyod.url}/v1/sprites/${id}/checkpoints/v9999/restore`, { method: "POST" })
        )
        assert.strictEqual(response.status, 200)
        assert.match(response.headers.get("content-type") ?? "", /application\/x-ndjson/)
        const lines = (yield* Effect.promise(() => response.text())).trim().split("\n").map((l) => JSON.parse(l))
        const last = lines.at(-1)
        assert.strictEqual(last.type, "error")
        assert.match(last.error, /v9999/)
        assert.match(last.error, /not found/)

        const failed = yield* Effect.either(Checkpoint.restore(id, "v9999"))
        assert.isTrue(Either.isLeft(failed) && failed.left._tag === "NotFound", String(failed))
        assert.strictEqual((yield* Sandbox.info(id)).status, "running", "a failed restore leaves the sandbox running")
        const missing = yield* Effect.either(Checkpoint.get(id, "v9999"))
        assert.isTrue(Either.isLeft(missing) && missing.left._tag === "NotFound")
      })))

    it.live("the current checkpoint cannot be deleted; others can", () =>
      provide(Effect.gen(function*() {
        const a = yield* Checkpoint.create(id, { comment: "a" })
        const b = yield* Checkpoint.create(id, { comment: "b" })
        const refused = yield* Effect.either(Checkpoint.remove(id, b.id))
        assert.isTrue(Either.isLeft(refused) && refused.left._tag === "Api" && refused.left.status === 409, String(refused))
        yield* Checkpoint.remove(id, a.id)
        const gone = yield* Effect.either(Checkpoint.get(id, a.id))
        assert.isTrue(Either.isLeft(gone) && gone.left._tag === "NotFound")
        assert.isFalse(fs.existsSync(path.join(checkpointDir(id), a.id)), "its copy is gone from disk")
        // restoring moves "current": then b can go
        yield* Checkpoint.restore(id, (yield* Checkpoint.list(id)).at(-1)!.id)
        yield* Checkpoint.remove(id, b.id)
      })), 120_000)

    it.live("Heyo cold store: nothing runs, the disk is kept, restore brings it back running", () =>
      provide(Effect.gen(function*() {
        yield* run(id, "echo kept > /workspace/cold.txt")
        yield* Sandbox.coldStore(id)
        const cold = yield* Sandbox.info(id)
        assert.strictEqual(cold.status, "cold-stored")
        const refused = yield* Effect.either(Commands.run(id, "true"))
        assert.isTrue(Either.isLeft(refused) && refused.left._tag === "Api" && refused.left.status === 409)
        const autos = (yield* Checkpoint.list(id, { includeAuto: true })).filter((c) => c.isAuto)
        assert.isTrue(autos.length >= 1, "the cold store left an automatic checkpoint")
        assert.isFalse((yield* Checkpoint.list(id)).some((c) => c.isAuto), "hidden unless asked for")
        yield* Sandbox.restore(id)
        assert.strictEqual((yield* Sandbox.info(id)).status, "running")
        assert.strictEqual((yield* run(id, "cat /workspace/cold.txt")).trim(), "kept")
      })), 60_000)

    it.live("checkpoints survive a heyod restart and die with their sandbox", () =>
      Effect.gen(function*() {
        const taken = yield* provide(Effect.gen(function*() {
          yield* run(id, "echo before-restart > /workspace/restart.txt")
          const ck = yield* Checkpoint.create(id, { comment: "before restart" })
          yield* run(id, "echo after > /workspace/restart.txt")
          return ck
        }))
        yield* Effect.promise(() => heyod.stop())
        heyod = yield* Effect.promise(() => Heyod.start({ dataDir: heyod.dataDir, args: options.args }))
        yield* provide(Effect.gen(function*() {
          const again = yield* Checkpoint.get(id, taken.id)
          assert.strictEqual(again.comment, "before restart")
          yield* Sandbox.waitForReady(id, "30 seconds")
          yield* Checkpoint.restore(id, taken.id)
          assert.strictEqual((yield* run(id, "cat /workspace/restart.txt")).trim(), "before-restart")
          // ids keep counting after a restart
          const next = yield* Checkpoint.create(id)
          assert.isTrue(Number(next.id.slice(1)) > Number(taken.id.slice(1)))
          assert.isTrue(fs.existsSync(checkpointDir(id)))
          yield* Sandbox.kill(id)
          assert.isFalse(fs.existsSync(checkpointDir(id)), "the sandbox's checkpoints went with it")
          const gone = yield* Effect.either(Checkpoint.list(id))
          assert.isTrue(Either.isLeft(gone) && gone.left._tag === "NotFound")
        }))
      }), 180_000)

    it.live("checkpoint calls on an unknown sandbox are NotFound", () =>
      provide(Effect.gen(function*() {
        const created = yield* Effect.either(Checkpoint.create("sb-nothere0"))
        assert.isTrue(Either.isLeft(created) && created.left._tag === "NotFound", String(created))
        assert.isTrue(HeyoError.isHeyoError(Either.isLeft(created) ? created.left : undefined))
      })))

    it.live("heyod stops leaving no mounts, loop devices, cgroups or processes behind", () =>
      Effect.gen(function*() {
        yield* Effect.promise(() => heyod.stop())
        const left = Heyod.leftovers(heyod.dataDir)
        assert.deepStrictEqual(left, { mounts: [], netns: [], cgroups: [], processes: [], loops: [] })
      }))
  })
