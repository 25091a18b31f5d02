/**
 * A runaway query is stopped by the statement timeout (heyod option, 2 s here) and costs only
 * its own database's SQL worker: a sandbox's exec, another database and heyod's HTTP answer
 * normally meanwhile, and the database works again afterwards with its committed data intact.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Commands, Database, HeyoClient, Sandbox } from "@heyo-effect/sdk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { afterAll, beforeAll } from "vitest"
import * as Heyod from "../support/Heyod.js"

const runaway = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = Date.now()
    const value = yield* effect
    return { value, millis: Date.now() - started }
  })

describe("a runaway query", () => {
  let heyod: Heyod.Heyod
  beforeAll(async () => {
    heyod = await Heyod.start({ args: ["--storage", "dir", "--sql-statement-timeout", "2s"] })
  })
  afterAll(async () => {
    if (heyod !== undefined) await heyod.stop()
  })

  const layer = () =>
    Layer.mergeAll(Database.layer, Sandbox.layer).pipe(
      Layer.provideMerge(HeyoClient.layer({ baseUrl: heyod.url })),
      Layer.provide(NodeHttpClient.layerUndici)
    )

  it.live("fails on its timeout while another sandbox's exec, another database and /health answer", () =>
    Effect.gen(function*() {
      const sandbox = yield* Sandbox.create({ name: "runaway-neighbour", image: "host", sizeClass: "micro" })
      const slow = yield* Database.create({ name: "runaway" })
      const other = yield* Database.create({ name: "bystander" })
      yield* Database.batch(slow.id, [{ sql: "CREATE TABLE kept (v)" }, { sql: "INSERT INTO kept VALUES ('before')" }])
      // Warm the bystander's worker so its first answer below is not a worker start.
      yield* Database.exec(other.id, "SELECT 1")

      const stuck = yield* Effect.fork(timed(Effect.flip(Database.exec(slow.id, runaway))))
      yield* Effect.sleep("250 millis")
      const exec = yield* timed(Commands.run(sandbox.id, "echo neighbour"))
      assert.strictEqual(exec.value.stdout, "neighbour\n")
      assert.isBelow(exec.millis, 1500, "the sandbox's exec is not stalled by the query")
      const query = yield* timed(Database.exec(other.id, "SELECT 41 + 1"))
      assert.deepStrictEqual(query.value.rows, [[42n]])
      assert.isBelow(query.millis, 1000, "another database answers at once")
      const health = yield* timed(Effect.promise(() => fetch(`${heyod.url}/health`).then((r) => r.status)))
      assert.strictEqual(health.value, 200)
      assert.isBelow(health.millis, 1000)
      assert.isTrue(Option.isNone(yield* Fiber.poll(stuck)), "all of that answered while the query still ran")

      const failed = yield* Fiber.join(stuck)
      assert.strictEqual(failed.value._tag, "Api")
      assert.strictEqual((failed.value as { status?: number }).status, 504)
      assert.include(failed.value.message, "statement timeout")
      assert.isAtLeast(failed.millis, 1900)
      assert.isBelow(failed.millis, 8000)

      // A new worker takes over; what was committed before is still there.
      const after = yield* Database.exec(slow.id, "SELECT v FROM kept")
      assert.deepStrictEqual(after.rows, [["before"]])
      yield* Sandbox.kill(sandbox.id)
    }).pipe(Effect.provide(layer())), 60_000)
})
