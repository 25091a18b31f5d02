import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Commands from "../src/Commands.js"
import * as ExecEvent from "../src/ExecEvent.js"
import * as Testing from "../src/Testing.js"

const text = (event: ExecEvent.ExecEvent) =>
  ExecEvent.$match(event, {
    Stdout: ({ data }) => `out:${new TextDecoder().decode(data)}`,
    Stderr: ({ data }) => `err:${new TextDecoder().decode(data)}`,
    Exit: ({ exitCode }) => `exit:${exitCode}`,
    OutputLost: ({ from, to }) => `lost:${from}-${to}`
  })

describe("Testing.layer: Commands.stream", () => {
  it.effect("streams the same handler's answer, with stdin and args in its context", () =>
    Effect.gen(function*() {
      const events = yield* Commands.stream("sb-1", "cat", {
        args: ["x"],
        stdin: Stream.make(new TextEncoder().encode("he"), new TextEncoder().encode("llo"))
      }).pipe(Stream.runCollect)
      assert.deepStrictEqual(Chunk.toArray(events).map(text), ["out:hello|x", "err:warn", "exit:3"])
      const plain = yield* Commands.stream("sb-1", "true").pipe(Stream.runCollect)
      assert.deepStrictEqual(Chunk.toArray(plain).map(text), ["out:|", "err:warn", "exit:3"])
    }).pipe(Effect.provide(Testing.layer({
      sandboxes: [{ id: "sb-1" }],
      exec: (_id, _command, { args, stdin }) => ({
        stdout: `${stdin === undefined ? "" : new TextDecoder().decode(stdin)}|${(args ?? []).join(",")}`,
        stderr: "warn",
        exitCode: 3
      })
    }))))

  it.effect("an unknown sandbox is NotFound, as with run", () =>
    Effect.gen(function*() {
      const error = yield* Commands.stream("sb-nope", "true").pipe(Stream.runDrain, Effect.flip)
      assert.strictEqual(error._tag, "NotFound")
    }).pipe(Effect.provide(Testing.layer())))
})
