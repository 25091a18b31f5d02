/**
 * The Heyo shell WebSocket, `WSS /deployed-sandboxes/{id}/shell-stream` (reference/heyo-api.md §4),
 * spoken with a raw `ws` client: init/ready, stdin `[0x01, ...]`, stdout `[0x02, seq u64 BE, ...]`,
 * resize, ack, a resume with `sessionId` replaying what was not acknowledged, close/exit, the grace
 * window running out, and bearer auth by header or `?token=`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import * as Heyod from "../support/Heyod.js"
import { Client, Sandboxes, stopAndCheck } from "./Wire.js"

const KEY = "shell-key"
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Output {
  readonly seq: number
  readonly data: Buffer
  /** The frame as received, for byte-for-byte comparison of replays. */
  readonly frame: Buffer
}

/** One shell-stream connection, recording text messages and output frames in order. */
class Shell {
  readonly texts: Array<Record<string, unknown>> = []
  readonly outputs: Array<Output> = []
  /** Binary frames that are not well-formed stdout frames (there should be none). */
  readonly strays: Array<Buffer> = []
  readonly closed: Promise<number>
  private waiters: Array<() => void> = []

  constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)))
    ws.on("message", (data: Buffer, isBinary) => {
      const bytes = Buffer.from(data)
      if (!isBinary) this.texts.push(JSON.parse(bytes.toString()) as Record<string, unknown>)
      else if (bytes.length >= 9 && bytes[0] === 0x02) {
        this.outputs.push({ seq: Number(bytes.readBigUInt64BE(1)), data: bytes.subarray(9), frame: bytes })
      } else this.strays.push(bytes)
      for (const waiter of this.waiters) waiter()
    })
    ws.on("close", () => {
      for (const waiter of this.waiters) waiter()
    })
  }

  get text(): string {
    return Buffer.concat(this.outputs.map((o) => o.data)).toString("utf8")
  }

  get lastSeq(): number {
    return this.outputs.at(-1)?.seq ?? 0
  }

  send(message: Record<string, unknown>) {
    this.ws.send(JSON.stringify(message))
  }

  write(input: string) {
    this.ws.send(Buffer.concat([Buffer.from([0x01]), Buffer.from(input)]))
  }

  until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (condition()) {
          clearTimeout(timer)
          this.waiters = this.waiters.filter((w) => w !== check)
          resolve()
        } else if (this.ws.readyState === WebSocket.CLOSED) {
          clearTimeout(timer)
          reject(new Error(`socket closed before ${what}; texts ${JSON.stringify(this.texts)}, output ${JSON.stringify(this.text.slice(-800))}`))
        }
      }
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check)
        reject(new Error(`no ${what} within ${timeoutMs} ms; texts ${JSON.stringify(this.texts)}, output ${JSON.stringify(this.text.slice(-800))}`))
      }, timeoutMs)
      this.waiters.push(check)
      check()
    })
  }

  untilText(type: string): Promise<Record<string, unknown>> {
    return this.until(() => this.texts.some((t) => t["type"] === type), `a "${type}" message`).then(
      () => this.texts.find((t) => t["type"] === type)!
    )
  }

  untilOutput(pattern: RegExp) {
    return this.until(() => pattern.test(this.text), `output matching ${pattern}`)
  }
}

type Refused = { readonly status: number; readonly body: string }

const connect = (url: string, headers: Record<string, string> = {}) =>
  new Promise<Shell | Refused>((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    // Created before `open` so no frame that follows the 101 at once is missed.
    let shell: Shell | undefined
    ws.on("upgrade", () => (shell = new Shell(ws)))
    ws.on("open", () => resolve(shell!))
    ws.on("unexpected-response", (_request, response) => {
      let body = ""
      response.on("data", (d: Buffer) => (body += d.toString()))
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }))
    })
    ws.on("error", (error) => {
      if (!String(error.message).includes("Unexpected server response")) reject(error)
    })
  })

describe("Heyo shell-stream WebSocket", () => {
  let heyod: Heyod.Heyod
  let sandboxes: Sandboxes
  let sandboxId = ""
  let url = ""
  const auth = { Authorization: `Bearer ${KEY}` }

  /** A shell connection with the bearer header; `init` is sent at once. */
  const start = async (init: Record<string, unknown>) => {
    const result = await connect(url, auth)
    if (!(result instanceof Shell)) throw new Error(`upgrade refused: ${result.status} ${result.body}`)
    result.send({ type: "init", ...init })
    return result
  }

  beforeAll(async () => {
    heyod = await Heyod.start({ apiKey: KEY, args: ["--shell-grace", "1s", "--kill-grace", "300ms"] })
    sandboxes = new Sandboxes(new Client(heyod.url, KEY))
    sandboxId = await sandboxes.running({ name: "heyo-shell" })
    url = `${heyod.url.replace("http", "ws")}/deployed-sandboxes/${sandboxId}/shell-stream`
  }, 60_000)
  afterAll(async () => {
    if (heyod === undefined) return
    await sandboxes.killEverything()
    await stopAndCheck(heyod)
  }, 30_000)

  it("init -> ready{sessionId}; stdin [0x01, ...] runs; stdout [0x02, seq u64 BE, ...] with seqs 1, 2, 3...", async () => {
    const shell = await start({ cols: 80, rows: 24 })
    const ready = await shell.untilText("ready")
    expect(shell.texts[0]).toBe(ready)
    expect(typeof ready["sessionId"]).toBe("string")
    expect(String(ready["sessionId"]).length).toBeGreaterThan(0)
    shell.write("echo hello-$((6*7))\n")
    await shell.untilOutput(/hello-42/)
    expect(shell.outputs[0]?.seq).toBe(1)
    expect(shell.outputs.map((o) => o.seq)).toEqual(shell.outputs.map((_, i) => i + 1))
    expect(shell.strays).toEqual([])
    shell.write("exit 3\n")
    const exit = await shell.untilText("exit")
    expect(exit).toEqual({ type: "exit", code: 3 })
    await shell.closed
    // an ended shell cannot be resumed
    const resumed = await start({ cols: 80, rows: 24, sessionId: String(ready["sessionId"]) })
    expect((await resumed.untilText("error"))["code"]).toBe("session_expired")
  })

  it("init cols/rows and resize reach the terminal (stty size)", async () => {
    const shell = await start({ cols: 100, rows: 30 })
    await shell.untilText("ready")
    shell.write("stty size\n")
    await shell.untilOutput(/30 100\r\n/)
    shell.send({ type: "resize", cols: 132, rows: 43 })
    shell.write("stty size\n")
    await shell.untilOutput(/43 132\r\n/)
    shell.send({ type: "close" })
    await shell.untilText("exit")
  })

  it("init env and cwd reach the shell", async () => {
    const shell = await start({ cols: 80, rows: 24, env: { SHELL_TEST_VAR: "from-init" }, cwd: "/tmp" })
    await shell.untilText("ready")
    shell.write("echo \"[$SHELL_TEST_VAR:$(pwd)]\"\n")
    await shell.untilOutput(/\[from-init:\/tmp\]/)
    shell.send({ type: "close" })
    await shell.untilText("exit")
  })

  it("close ends a shell that ignores the hang-up too: SIGKILL after --kill-grace, then exit", async () => {
    const shell = await start({ cols: 80, rows: 24 })
    await shell.untilText("ready")
    shell.write("trap '' HUP; echo trap-$((40+2))\n")
    await shell.untilOutput(/trap-42\r\n/)
    shell.send({ type: "close" })
    const exit = await shell.untilText("exit")
    expect(exit["code"]).toBe(137)
  })

  it("a resume with sessionId after a dropped socket replays the frames after the last ack: same seq, same bytes", async () => {
    const first = await start({ cols: 80, rows: 24 })
    const sessionId = String((await first.untilText("ready"))["sessionId"])
    // markers computed by the shell, so the terminal's echo of the typed line never matches them
    first.write("echo before-ack-$((1+1))\n")
    await first.untilOutput(/before-ack-2\r\n/)
    const acked = first.lastSeq
    first.send({ type: "ack", seq: acked })
    first.write("for i in 1 2 3 4 5; do echo after-ack-$i; done\n")
    await first.untilOutput(/after-ack-5\r\n/)
    // let the prompt that follows arrive too, so everything printed so far is known
    await sleep(300)
    const seen = new Map(first.outputs.map((o) => [o.seq, o.frame]))
    const last = first.lastSeq
    expect(last).toBeGreaterThan(acked)
    first.ws.terminate()
    await first.closed

    const second = await start({ cols: 80, rows: 24, sessionId })
    expect((await second.untilText("ready"))["sessionId"]).toBe(sessionId)
    await second.until(() => second.lastSeq >= last, `replay up to seq ${last}`)
    const replayed = second.outputs.filter((o) => o.seq <= last)
    expect(replayed.map((o) => o.seq)).toEqual(Array.from({ length: last - acked }, (_, i) => acked + 1 + i))
    for (const o of replayed) expect(o.frame.equals(seen.get(o.seq)!), `frame ${o.seq} replayed differently`).toBe(true)
    expect(second.text).toContain("after-ack-5")
    expect(second.text).not.toContain("before-ack-2")

    // the resumed shell is the same one: it still takes input
    second.write("echo resumed-$((2*3))\n")
    await second.untilOutput(/resumed-6\r\n/)
    expect(second.outputs.map((o) => o.seq)).toEqual(second.outputs.map((_, i) => acked + 1 + i))
    second.send({ type: "close" })
    const exit = await second.untilText("exit")
    expect(typeof exit["code"]).toBe("number")
    await second.closed
  })

  it("{type:close} ends the shell: exit{code}, then the socket closes", async () => {
    const shell = await start({ cols: 80, rows: 24 })
    await shell.untilText("ready")
    shell.send({ type: "close" })
    const exit = await shell.untilText("exit")
    expect(Object.keys(exit).sort()).toEqual(["code", "type"])
    expect(Number.isInteger(exit["code"])).toBe(true)
    await shell.closed
  })

  it("after --shell-grace without a client, a resume gets error{code:session_expired}", async () => {
    const first = await start({ cols: 80, rows: 24 })
    const sessionId = String((await first.untilText("ready"))["sessionId"])
    first.ws.terminate()
    await first.closed
    // --shell-grace 1s, then SIGTERM and --kill-grace 300ms before SIGKILL
    await sleep(2_500)
    const late = await start({ cols: 80, rows: 24, sessionId })
    const error = await late.untilText("error")
    expect(error["code"]).toBe("session_expired")
    expect(late.texts.some((t) => t["type"] === "ready")).toBe(false)
    await late.closed
  })

  it("a resume of a session id that never existed gets error{code:session_expired}", async () => {
    const shell = await start({ cols: 80, rows: 24, sessionId: "no-such-session" })
    expect((await shell.untilText("error"))["code"]).toBe("session_expired")
  })

  it("bearer auth: header or ?token=; a missing or wrong key is 401 before the upgrade", async () => {
    const byQuery = await connect(`${url}?token=${KEY}`)
    expect(byQuery instanceof Shell).toBe(true)
    const shell = byQuery as Shell
    shell.send({ type: "init", cols: 80, rows: 24 })
    await shell.untilText("ready")
    shell.send({ type: "close" })
    await shell.untilText("exit")

    for (const [target, headers] of [
      [url, {}],
      [url, { Authorization: "Bearer wrong" }],
      [`${url}?token=wrong`, {}]
    ] as const) {
      const refused = await connect(target, headers)
      expect(refused instanceof Shell, `${target} ${JSON.stringify(headers)} was upgraded`).toBe(false)
      expect((refused as Refused).status).toBe(401)
      expect(typeof JSON.parse((refused as Refused).body).message).toBe("string")
    }
  })

  it("the local daemon's shortcut /sandboxes/{id}/shell-stream speaks the same protocol", async () => {
    const result = await connect(`${heyod.url.replace("http", "ws")}/sandboxes/${sandboxId}/shell-stream`, auth)
    expect(result instanceof Shell).toBe(true)
    const shell = result as Shell
    shell.send({ type: "init", cols: 80, rows: 24 })
    await shell.untilText("ready")
    shell.write("exit 5\n")
    expect(await shell.untilText("exit")).toEqual({ type: "exit", code: 5 })
  })

  it("an unknown sandbox is a plain HTTP 404 with {message}", async () => {
    const refused = await connect(`${heyod.url.replace("http", "ws")}/deployed-sandboxes/sb-00000000/shell-stream`, auth)
    expect(refused instanceof Shell).toBe(false)
    expect((refused as Refused).status).toBe(404)
    const message = JSON.parse((refused as Refused).body).message
    expect(typeof message).toBe("string")
  })
})
