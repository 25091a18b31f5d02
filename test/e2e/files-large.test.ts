/**
 * 1 GiB through Files as Streams: written from a generated Stream, read back as a Stream, the
 * sha256 of both equal, while the peak memory (VmHWM) of this test process and of heyod each
 * stays under 256 MB: neither side ever holds the file.
 */
import { assert, describe, it } from "@effect/vitest"
import { Files, Sandbox } from "@heyo-effect/sdk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { afterAll, beforeAll } from "vitest"
import * as Heyod from "../support/Heyod.js"
import * as SdkClient from "./SdkClient.js"

const MiB = 1024 * 1024
const chunkSize = 256 * 1024
const total = 1024 * MiB
const limitKb = 256 * 1024

const vmHwmKb = (pid: number | "self") => {
  const line = fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmHWM:"))
  return Number(/(\d+)/.exec(line ?? "")?.[1] ?? NaN)
}

describe("1 GiB through Files streams", () => {
  let heyod: Heyod.Heyod
  let id: string
  beforeAll(async () => {
    heyod = await Heyod.start()
    id = await Effect.runPromise(
      Sandbox.create({ name: "e2e-files-large", sizeClass: "small" }).pipe(
        Effect.map((s) => s.id as string),
        Effect.provide(SdkClient.layer(heyod))
      )
    )
  })
  afterAll(async () => {
    if (heyod !== undefined) await heyod.stop()
  })

  it.live("write 1 GiB from a Stream, read it back as a Stream: same sha256, bounded memory", () =>
    Effect.gen(function*() {
      // 256 KiB of noise, each chunk stamped with its index so no two chunks are equal
      const noise = crypto.randomBytes(chunkSize)
      const written = crypto.createHash("sha256")
      // one element per chunk: a Stream.range chunk would otherwise map 1024 MiB at once
      const source = Stream.range(0, total / chunkSize - 1, 1).pipe(
        Stream.map((i) => {
          const chunk = Buffer.from(noise)
          chunk.writeUInt32BE(i, 0)
          written.update(chunk)
          return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
        })
      )
      const baseline = vmHwmKb("self")
      const started = Date.now()
      yield* Files.write(id, "/workspace/big.bin", source)
      const writeSeconds = (Date.now() - started) / 1000
      assert.strictEqual((yield* Files.stat(id, "/workspace/big.bin")).size, total)

      const read = crypto.createHash("sha256")
      let bytes = 0
      const readStarted = Date.now()
      yield* Files.readStream(id, "/workspace/big.bin").pipe(
        Stream.runForEach((chunk) =>
          Effect.sync(() => {
            read.update(chunk)
            bytes += chunk.byteLength
          })
        )
      )
      const readSeconds = (Date.now() - readStarted) / 1000
      assert.strictEqual(bytes, total)
      assert.strictEqual(read.digest("hex"), written.digest("hex"))

      const self = vmHwmKb("self")
      const server = vmHwmKb(heyod.process.pid!)
      console.log(
        `1 GiB: write ${(1024 / writeSeconds).toFixed(0)} MiB/s, read ${(1024 / readSeconds).toFixed(0)} MiB/s; ` +
          `VmHWM test ${(self / 1024).toFixed(0)} MB (${(baseline / 1024).toFixed(0)} MB before), heyod ${(server / 1024).toFixed(0)} MB`
      )
      assert.isBelow(self, limitKb, "test process VmHWM")
      assert.isBelow(server, limitKb, "heyod VmHWM")
      yield* Files.remove(id, "/workspace/big.bin")
    }).pipe(Effect.provide(SdkClient.layer(heyod))), 300_000)
})
