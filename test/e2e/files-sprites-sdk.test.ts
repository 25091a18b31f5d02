/**
 * A real client, unchanged: the official Sprites JS SDK (`@fly/sprites` 0.1.0) runs its
 * filesystem calls against heyod's fs routes. It targets Node 24's global WebSocket; on Node 20
 * the `ws` package stands in (it takes the same `{headers}` option), used only by `watch`.
 */
import { Sandbox } from "@heyo-effect/sdk"
import { FilesystemError, SpritesClient } from "@fly/sprites"
import * as Effect from "effect/Effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import * as Heyod from "../support/Heyod.js"
import * as SdkClient from "./SdkClient.js"

const KEY = "sprites-sdk-key"
const NAME = "e2e-sprites-fs"

describe("@fly/sprites filesystem against heyod", () => {
  let heyod: Heyod.Heyod
  let client: SpritesClient
  const original = (globalThis as { WebSocket?: unknown }).WebSocket
  beforeAll(async () => {
    ;(globalThis as { WebSocket?: unknown }).WebSocket = WebSocket
    heyod = await Heyod.start({ apiKey: KEY })
    await Effect.runPromise(Sandbox.create({ name: NAME }).pipe(Effect.provide(SdkClient.layer(heyod))))
    client = new SpritesClient(KEY, { baseURL: heyod.url })
  })
  afterAll(async () => {
    ;(globalThis as { WebSocket?: unknown }).WebSocket = original
    if (heyod !== undefined) await heyod.stop()
  })

  it("writeFile, readFile, readdir, stat, exists, rename, copyFile, chmod, mkdir, rm", async () => {
    const fs = client.sprite(NAME).filesystem("/workspace")
    await fs.writeFile("notes/today.txt", "hello from @fly/sprites\n")
    await fs.writeFile("bin.dat", Buffer.from([0, 1, 2, 255]), { mode: 0o600 })
    expect(await fs.readFile("notes/today.txt", "utf8")).toBe("hello from @fly/sprites\n")
    expect([...(await fs.readFile("bin.dat"))]).toEqual([0, 1, 2, 255])

    expect(await fs.readdir("notes")).toEqual(["today.txt"])
    const entries = await fs.readdir(".", { withFileTypes: true })
    const byName = new Map(entries.map((e) => [e.name, e]))
    expect(byName.get("notes")?.isDirectory()).toBe(true)
    expect(byName.get("bin.dat")?.isFile()).toBe(true)
    expect(await fs.readdir(".", { recursive: true, pattern: "*.txt" })).toEqual(["today.txt"])

    const stat = await fs.stat("bin.dat")
    expect(stat.isFile()).toBe(true)
    expect(stat.size).toBe(4)
    expect(stat.mode & 0o777).toBe(0o600)
    expect(stat.mtime.getTime()).toBeGreaterThan(Date.now() - 60_000)
    expect(await fs.exists("bin.dat")).toBe(true)
    expect(await fs.exists("nope.dat")).toBe(false)

    await fs.rename("notes/today.txt", "notes/yesterday.txt")
    expect(await fs.readdir("notes")).toEqual(["yesterday.txt"])
    await fs.copyFile("notes/yesterday.txt", "copy.txt")
    expect(await fs.readFile("copy.txt", "utf8")).toBe("hello from @fly/sprites\n")
    await fs.chmod("copy.txt", 0o640)
    expect((await fs.stat("copy.txt")).mode & 0o777).toBe(0o640)
    await fs.mkdir("made/deep", { recursive: true })
    expect((await fs.readdir("made")).sort()).toEqual(["deep"])
    expect(await fs.readdir("made/deep")).toEqual([])

    await fs.rm("notes", { recursive: true })
    await fs.rm("copy.txt")
    await fs.rm("never-existed", { force: true })
    expect(await fs.exists("notes")).toBe(false)
  })

  it("errors come back as FilesystemError with the errno code and path", async () => {
    const fs = client.sprite(NAME).filesystem("/workspace")
    const missing = await fs.readFile("missing.txt").catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(FilesystemError)
    expect((missing as FilesystemError).code).toBe("ENOENT")
    expect((missing as FilesystemError).path).toBe("/workspace/missing.txt")
    await fs.writeFile("full/a.txt", "a")
    const notEmpty = await fs.rm("full").catch((e: unknown) => e)
    expect((notEmpty as FilesystemError).code).toBe("ENOTEMPTY")
    const isDir = await fs.readFile("full").catch((e: unknown) => e)
    expect((isDir as FilesystemError).code).toBe("EISDIR")
  })

  it("watch yields subscribed and event frames", async () => {
    const fs = client.sprite(NAME).filesystem("/workspace")
    await fs.mkdir("watched", { recursive: true })
    const watcher = await fs.watch("watched", { recursive: true })
    const seen: Array<{ type: string; path?: string; event?: string }> = []
    const done = (async () => {
      for await (const frame of watcher as AsyncIterable<{ type: string; path?: string; event?: string }>) {
        seen.push(frame)
        if (frame.type === "event" && frame.path === "/workspace/watched/x.txt" && frame.event === "write") break
      }
    })()
    // the subscribed frame arrives once the watcher is in place
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 50))
    expect(seen[0]).toEqual({ type: "subscribed", paths: ["/workspace/watched"] })
    await fs.writeFile("watched/x.txt", "x")
    await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`no event: ${JSON.stringify(seen)}`)), 10_000))])
    watcher.close()
    expect(seen.some((f) => f.type === "event" && f.event === "create" && f.path === "/workspace/watched/x.txt")).toBe(true)
  })
})
