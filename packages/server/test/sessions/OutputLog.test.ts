import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { OutputLog } from "../../src/sessions/OutputLog.js"

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (chunks: ReadonlyArray<{ readonly data: Uint8Array }>) => chunks.map((c) => new TextDecoder().decode(c.data)).join("")

describe("OutputLog", () => {
  it.effect("without readers the oldest chunks make way: the scrollback keeps the tail, and says what is lost", () =>
    Effect.gen(function*() {
      const log = new OutputLog(8)
      for (const piece of ["aaaa", "bbbb", "cccc", "dddd"]) yield* log.append(1, bytes(piece))
      assert.strictEqual(log.end, 16)
      assert.strictEqual(log.start, 8)
      assert.strictEqual(log.firstSeq, 3)
      const { lost, reader } = log.attach(2)
      assert.strictEqual(lost, 6)
      assert.strictEqual(text(yield* log.read(reader, 100)), "ccccdddd")
    }))

  it.effect("an attached reader is never overtaken: append waits until it has read", () =>
    Effect.gen(function*() {
      const log = new OutputLog(8)
      const { reader } = log.attach(0)
      yield* log.append(1, bytes("aaaa"))
      yield* log.append(2, bytes("bbbb"))
      const blocked = yield* Effect.fork(log.append(1, bytes("cccc")))
      yield* Effect.yieldNow()
      assert.isNull(blocked.unsafePoll(), "append went past a reader that had read nothing")
      const first = yield* log.read(reader, 4)
      assert.deepStrictEqual(first.map((c) => [c.seq, c.stream]), [[1, 1]])
      yield* Fiber.join(blocked)
      assert.strictEqual(text(yield* log.read(reader, 100)), "bbbbcccc")
    }))

  it.effect("reads from an offset inside a chunk, maps seqs to offsets, and ends after finish", () =>
    Effect.gen(function*() {
      const log = new OutputLog(1024)
      yield* log.append(1, bytes("hello "))
      yield* log.append(2, bytes("world"))
      assert.strictEqual(log.offsetOfSeq(2), 6)
      assert.strictEqual(log.offsetOfSeq(3), 11)
      const { reader } = log.attach(3)
      assert.strictEqual(text(yield* log.read(reader, 100)), "lo world")
      log.finish()
      assert.deepStrictEqual(yield* log.read(reader, 100), [])
    }))

  it.effect("a waiting reader wakes on new output", () =>
    Effect.gen(function*() {
      const log = new OutputLog(1024)
      const { reader } = log.attach(0)
      const waiting = yield* Effect.fork(log.read(reader, 100))
      yield* Effect.yieldNow()
      yield* log.append(1, bytes("late"))
      assert.strictEqual(text(yield* Fiber.join(waiting)), "late")
    }))
})
