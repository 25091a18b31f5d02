/**
 * The Sprites exec WebSocket, non-TTY (reference/sprites-api.md §3.1-§3.4, §3.8), spoken with a
 * raw `ws` client: text and binary frames byte by byte, close codes, upgrade failures as plain
 * HTTP with a JSON body, and the process ending when the client goes away.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import * as Heyod from "../support/Heyod.js"
import { Client, expectStatus } from "./Wire.js"

interface Received {
  readonly text: Array<Record<string, unknown>>
  readonly frames: Array<{ readonly stream: number; readonly bytes: Buffer }>
  readonly closeCode: number
}

type Upgrade = { readonly status: number; readonly body: string }

const execUrl = (heyod: Heyod.Heyod, sprite: string, argv: ReadonlyArray<string>, extra = "") =>
  `${heyod.url.replace("http", "ws")}/v1/sprites/${encodeURIComponent(sprite)}/exec?${
    argv.map((a) => `cmd=${encodeURIComponent(a)}`).join("&")
  }${extra}`

/** Runs one exec to completion, sending `stdin` (then EOF) when given. */
const run = (url: string, options: { readonly stdin?: Buffer; readonly headers?: Record<string, string> } = {}) =>
  new Promise<Received | Upgrade>((resolve, reject) => {
    const ws = new WebSocket(url, { headers: options.headers ?? {} })
    const text: Array<Record<string, unknown>> = []
    const frames: Array<{ stream: number; bytes: Buffer }> = []
    ws.on("unexpected-response", (_req, res) => {
      let body = ""
      res.on("data", (d: Buffer) => (body += d.toString()))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
    })
    ws.on("open", () => {
      if (options.stdin !== undefined) {
        ws.send(Buffer.concat([Buffer.from([0]), options.stdin]))
        ws.send(Buffer.from([4]))
      }
    })
    ws.on("message", (data: Buffer, isBinary) => {
      if (isBinary) frames.push({ stream: data[0]!, bytes: data.subarray(1) })
      else text.push(JSON.parse(data.toString()) as Record<string, unknown>)
    })
    ws.on("close", (closeCode) => resolve({ text, frames, closeCode }))
    ws.on("error", (error) => {
      if (!String(error.message).includes("Unexpected server response")) reject(error)
    })
  })

const received = (result: Received | Upgrade): Received => {
  if ("status" in result) throw new Error(`upgrade refused: ${result.status} ${result.body}`)
  return result
}

const streamOf = (result: Received, stream: number) =>
  Buffer.concat(result.frames.filter((f) => f.stream === stream).map((f) => f.bytes)).toString()

describe("Sprites exec WebSocket, non-TTY", () => {
  let heyod: Heyod.Heyod
  let client: Client
  let id = ""
  beforeAll(async () => {
    heyod = await Heyod.start({ args: ["--exec-linger", "600ms", "--kill-grace", "300ms"] })
    client = new Client(heyod.url)
    const created = await client.post("/sandbox-deploy", { name: "sprite-exec" })
    expectStatus(created, 202)
    id = String((created.json as { id: string }).id)
    for (let i = 0; i < 100; i++) {
      const info = await client.get(`/deployed-sandboxes/${id}`)
      if ((info.json as { status: string }).status === "running") break
      await new Promise((r) => setTimeout(r, 100))
    }
  }, 60_000)
  afterAll(async () => {
    if (heyod === undefined) return
    await client.delete(`/deployed-sandboxes/${id}`)
    const stopped = await heyod.stop()
    expect(stopped.millis).toBeLessThan(10_000)
    expect(Heyod.leftovers(heyod.dataDir)).toEqual({ mounts: [], netns: [], cgroups: [], processes: [], loops: [] })
  })

  it("GET /v1/sprites/{name} finds the sandbox by name and by id, with Sprite-Version", async () => {
    for (const ref of ["sprite-exec", id]) {
      const response = await fetch(`${heyod.url}/v1/sprites/${ref}`)
      expect(response.status).toBe(200)
      expect(response.headers.get("sprite-version")).toBeTruthy()
      expect(((await response.json()) as { name: string }).name).toBe("sprite-exec")
    }
    const missing = await fetch(`${heyod.url}/v1/sprites/no-such-sprite`)
    expect(missing.status).toBe(404)
    const body = (await missing.json()) as { error: string; message: string }
    expect(typeof body.error).toBe("string")
    expect(body.message).toContain("no-such-sprite")
  })

  it("session_info first, stdout and stderr frames apart, exit frame [3, code], exit JSON, close 1000", async () => {
    const result = received(await run(execUrl(heyod, "sprite-exec", ["sh", "-c", "echo out; echo err >&2; exit 3"])))
    expect(result.text[0]?.["type"]).toBe("session_info")
    expect(typeof result.text[0]?.["session_id"]).toBe("string")
    expect(result.text[0]?.["tty"]).toBe(false)
    expect(streamOf(result, 1)).toBe("out\n")
    expect(streamOf(result, 2)).toBe("err\n")
    const exit = result.frames.filter((f) => f.stream === 3)
    expect(exit.map((f) => [...f.bytes])).toEqual([[3]])
    expect(result.text.at(-1)).toEqual({ type: "exit", exit_code: 3 })
    expect(result.closeCode).toBe(1000)
  })

  it("exit codes 0, 1 and 255 each arrive as one byte", async () => {
    for (const code of [0, 1, 255]) {
      const result = received(await run(execUrl(heyod, id, ["sh", "-c", `exit ${code}`])))
      expect(result.frames.filter((f) => f.stream === 3).map((f) => f.bytes[0])).toEqual([code])
      expect(result.text.at(-1)).toEqual({ type: "exit", exit_code: code })
    }
  })

  it("stdin frames [0, ...bytes] then [4] reach the command byte-exact", async () => {
    const input = Buffer.from(Array.from({ length: 256 * 64 }, (_, i) => i % 256))
    const result = received(await run(execUrl(heyod, id, ["sh", "-c", "od -An -v -tx1 | wc -l"], "&stdin=true"), { stdin: input }))
    expect(streamOf(result, 1).trim()).toBe(String(input.length / 16))
  })

  it("upgrade failures are plain HTTP with a JSON body: unknown sprite 404, no cmd 400", async () => {
    const missing = await run(execUrl(heyod, "no-such-sprite", ["true"]))
    expect("status" in missing && missing.status).toBe(404)
    expect(JSON.parse((missing as Upgrade).body).message).toContain("no-such-sprite")
    const noCmd = await run(`${heyod.url.replace("http", "ws")}/v1/sprites/${id}/exec`)
    expect("status" in noCmd && noCmd.status).toBe(400)
    expect(typeof JSON.parse((noCmd as Upgrade).body).message).toBe("string")
  })

  it("a non-TTY command outlives its client for max_run_after_disconnect (heyod --exec-linger), then ends", async () => {
    const count = async () => {
      const r = await client.post(`/sandbox/${id}/exec`, { command: "ps -eo args | grep -c '^sleep 1007' || true" })
      return (r.json as { stdout: string }).stdout.trim()
    }
    const ws = new WebSocket(execUrl(heyod, id, ["sleep", "1007"]))
    await new Promise((resolve) => ws.on("message", resolve))
    expect(await count()).toBe("1")
    ws.terminate()
    await new Promise((r) => setTimeout(r, 200))
    expect(await count(), "the session ended before its linger").toBe("1")
    let left = "1"
    for (let i = 0; i < 30 && left !== "0"; i++) {
      await new Promise((r) => setTimeout(r, 100))
      left = await count()
    }
    expect(left, "sleep 1007 still runs 3 s after its client left").toBe("0")
  })
})

describe("Sprites exec WebSocket with an API key", () => {
  let heyod: Heyod.Heyod
  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: "sprite-key" })
  }, 60_000)
  afterAll(async () => {
    if (heyod !== undefined) await heyod.stop()
  })

  it("refuses the upgrade with 401 and a JSON body without the bearer or with a wrong one", async () => {
    for (const headers of [{}, { Authorization: "Bearer wrong" }]) {
      const refused = await run(execUrl(heyod, "anything", ["true"]), { headers })
      expect("status" in refused && refused.status).toBe(401)
      expect(typeof JSON.parse((refused as Upgrade).body).message).toBe("string")
    }
  })
})
