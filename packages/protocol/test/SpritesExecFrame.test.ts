import { assert, describe, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { SpritesExecFrame, SpritesExecMessage, SpritesExecQuery } from "../src/index.js"

describe("Sprites exec frames", () => {
  it("encodes a stream id byte before the payload", () => {
    assert.deepStrictEqual([...SpritesExecFrame.encode(SpritesExecFrame.Stdout, Uint8Array.of(104, 105))], [1, 104, 105])
    assert.deepStrictEqual([...SpritesExecFrame.encode(SpritesExecFrame.Stderr, new Uint8Array(0))], [2])
    assert.deepStrictEqual([...SpritesExecFrame.encode(SpritesExecFrame.Stdin, Uint8Array.of(0))], [0, 0])
    assert.deepStrictEqual([...SpritesExecFrame.stdinEof], [4])
  })

  it("carries the exit code in one byte", () => {
    assert.deepStrictEqual([...SpritesExecFrame.encodeExit(0)], [3, 0])
    assert.deepStrictEqual([...SpritesExecFrame.encodeExit(255)], [3, 255])
    assert.deepStrictEqual([...SpritesExecFrame.encodeExit(256 + 7)], [3, 7])
  })

  it("decodes every kind, ignores empty and unknown frames", () => {
    assert.deepStrictEqual(SpritesExecFrame.decode(Uint8Array.of(1, 65)), { _tag: "Stdout", data: Uint8Array.of(65) })
    assert.deepStrictEqual(SpritesExecFrame.decode(Uint8Array.of(2, 66)), { _tag: "Stderr", data: Uint8Array.of(66) })
    assert.deepStrictEqual(SpritesExecFrame.decode(Uint8Array.of(0, 67)), { _tag: "Stdin", data: Uint8Array.of(67) })
    assert.deepStrictEqual(SpritesExecFrame.decode(Uint8Array.of(3, 42)), { _tag: "Exit", exitCode: 42 })
    assert.deepStrictEqual(SpritesExecFrame.decode(Uint8Array.of(3)), { _tag: "Exit", exitCode: 0 })
    assert.deepStrictEqual(SpritesExecFrame.decode(Uint8Array.of(4)), { _tag: "StdinEof" })
    assert.isUndefined(SpritesExecFrame.decode(new Uint8Array(0)))
    assert.isUndefined(SpritesExecFrame.decode(Uint8Array.of(9, 1)))
  })

  it("round-trips arbitrary bytes", () => {
    const payload = Uint8Array.from({ length: 256 }, (_, i) => i)
    const frame = SpritesExecFrame.decode(SpritesExecFrame.encode(SpritesExecFrame.Stdout, payload))
    assert.deepStrictEqual(frame, { _tag: "Stdout", data: payload })
  })
})

describe("Sprites exec text messages", () => {
  it("session_info has a string id and heyod's offset", () => {
    const json = Schema.encodeSync(SpritesExecMessage.ServerMessageFromJson)(
      new SpritesExecMessage.SessionInfo({ session_id: "1847", command: "bash", created: 1, is_owner: true, tty: false, offset: 0 })
    )
    assert.deepStrictEqual(JSON.parse(json), {
      type: "session_info",
      session_id: "1847",
      command: "bash",
      created: 1,
      is_owner: true,
      tty: false,
      offset: 0
    })
  })

  it("decodes the exit message and rejects a numeric session id", () => {
    const exit = Schema.decodeUnknownSync(SpritesExecMessage.ServerMessageFromJson)(`{"type":"exit","exit_code":3}`)
    assert.strictEqual(exit.type, "exit")
    const numeric = Schema.decodeUnknownEither(SpritesExecMessage.ServerMessageFromJson)(
      `{"type":"session_info","session_id":1847,"command":"x","created":1,"is_owner":true,"tty":false}`
    )
    assert.isTrue(Either.isLeft(numeric))
  })
})

describe("Sprites exec query", () => {
  const decode = Schema.decodeUnknownEither(SpritesExecQuery.ExecQuery)

  it("takes repeated cmd and env, flags as strings", () => {
    const q = Either.getOrThrow(decode({ cmd: ["sh", "-c", "echo hi"], env: "A=1", stdin: "true", dir: "/tmp" }))
    assert.deepStrictEqual(q.cmd, ["sh", "-c", "echo hi"])
    assert.deepStrictEqual(SpritesExecQuery.envRecord(q.env), { A: "1" })
    assert.strictEqual(q.stdin, true)
    assert.strictEqual(q.tty, false)
  })

  it("single cmd, defaults, env values containing '='", () => {
    const q = Either.getOrThrow(decode({ cmd: "true", env: ["B=x=y"] }))
    assert.deepStrictEqual(q.cmd, ["true"])
    assert.strictEqual(SpritesExecQuery.wantsStdin(q), false)
    assert.deepStrictEqual(SpritesExecQuery.envRecord(q.env), { B: "x=y" })
  })

  it("stdin defaults to true with a TTY only; max_run_after_disconnect takes Go durations", () => {
    const tty = Either.getOrThrow(decode({ cmd: "bash", tty: "true" }))
    assert.strictEqual(SpritesExecQuery.wantsStdin(tty), true)
    assert.strictEqual(SpritesExecQuery.wantsStdin(Either.getOrThrow(decode({ cmd: "bash", tty: "true", stdin: "false" }))), false)
    const linger = (value: string) => Either.getOrThrow(decode({ cmd: "x", max_run_after_disconnect: value })).max_run_after_disconnect
    assert.strictEqual(linger("30s"), 30_000)
    assert.strictEqual(linger("1m30s"), 90_000)
    assert.strictEqual(linger("250ms"), 250)
    assert.strictEqual(linger("0"), 0)
    assert.isTrue(Either.isLeft(decode({ cmd: "x", max_run_after_disconnect: "soon" })))
  })

  it("refuses a missing cmd and malformed env", () => {
    assert.isTrue(Either.isLeft(decode({})))
    assert.isTrue(Either.isLeft(decode({ cmd: "true", env: "NOVALUE" })))
    assert.isTrue(Either.isLeft(decode({ cmd: "true", stdin: "yes" })))
  })
})
