import { afterAll, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as DataDirLock from "../../src/runtime/DataDirLock.js"

const dirs: Array<string> = []
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})
const dataDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "heyo-lock-"))
  dirs.push(dir)
  return dir
}

describe("DataDirLock", () => {
  it.scoped("lets one runtime hold a data dir at a time", () =>
    Effect.gen(function*() {
      const dir = dataDir()
      yield* Effect.scoped(Effect.gen(function*() {
        yield* DataDirLock.acquire(dir)
        const second = yield* Effect.scoped(DataDirLock.acquire(dir)).pipe(Effect.flip)
        assert.strictEqual(second._tag, "RuntimeError")
        assert.include(second.message, "in use")
      }))
      // released with its scope
      assert.isFalse(fs.existsSync(path.join(dir, "runtime.lock")))
      yield* DataDirLock.acquire(dir)
    }))

  it.scoped("takes over a lock left by a process that is gone", () =>
    Effect.gen(function*() {
      const dir = dataDir()
      // pid 1's start time is not 12345, so this names no live process
      fs.writeFileSync(path.join(dir, "runtime.lock"), "1 12345\n")
      yield* DataDirLock.acquire(dir)
      assert.match(fs.readFileSync(path.join(dir, "runtime.lock"), "utf8"), new RegExp(`^${process.pid} `))
    }))
})
