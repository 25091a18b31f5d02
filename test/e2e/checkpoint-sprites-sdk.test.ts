/**
 * A real client, unchanged: the official Sprites JS SDK (`@fly/sprites` 0.1.0) takes, lists and
 * restores checkpoints against heyod, parsing the NDJSON streams and objects itself.
 */
import { SpritesClient } from "@fly/sprites"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Heyod from "../support/Heyod.js"
import { Client, exec, Sandboxes } from "../conformance/Wire.js"

const KEY = "sprites-sdk-key"

describe("@fly/sprites 0.1.0 checkpoints against heyod", () => {
  let heyod: Heyod.Heyod
  let wire: Client
  let sandboxId: string
  const name = "fly-ck"

  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY })
    wire = new Client(heyod.url, KEY)
    sandboxId = await new Sandboxes(wire).running({ name, size_class: "micro" })
  })
  afterAll(async () => {
    if (heyod !== undefined) await heyod.stop()
  })

  it("createCheckpoint, listCheckpoints, getCheckpoint, restoreCheckpoint", async () => {
    const sprite = new SpritesClient(KEY, { baseURL: heyod.url }).sprite(name)
    await exec(wire, sandboxId, "mkdir -p /workspace && echo original > /workspace/f")

    const messages: Array<{ type: string; data?: string; error?: string }> = []
    const created = await sprite.createCheckpoint("from the JS SDK")
    await created.processAll((m: { type: string; data?: string; error?: string }) => void messages.push(m))
    const complete = messages.find((m) => m.type === "complete")
    expect(complete?.data, JSON.stringify(messages)).toMatch(/^Checkpoint v\d+ created$/)
    const ckId = /Checkpoint (v\d+) created/.exec(complete!.data!)![1]!

    const list = await sprite.listCheckpoints()
    const listed = list.find((c) => c.id === ckId)
    expect(listed?.comment).toBe("from the JS SDK")
    expect(listed?.createTime instanceof Date && !Number.isNaN(listed.createTime.getTime())).toBe(true)
    expect(listed?.isAuto).toBe(false)
    expect((await sprite.getCheckpoint(ckId)).id).toBe(ckId)

    await exec(wire, sandboxId, "echo changed > /workspace/f")
    const restored: Array<{ type: string; data?: string; error?: string }> = []
    const restore = await sprite.restoreCheckpoint(ckId)
    await restore.processAll((m: { type: string; data?: string; error?: string }) => void restored.push(m))
    expect(restored.at(-1)?.type, JSON.stringify(restored)).toBe("complete")
    expect((await exec(wire, sandboxId, "cat /workspace/f")).stdout).toBe("original\n")

    // a failed restore: the SDK sees an error message in the stream, not an HTTP failure
    const failed: Array<{ type: string; error?: string }> = []
    await (await sprite.restoreCheckpoint("v999")).processAll((m: { type: string; error?: string }) => void failed.push(m))
    expect(failed.at(-1)?.type).toBe("error")
    await expect(sprite.getCheckpoint("v999")).rejects.toThrow(/not found/i)
  })
})
