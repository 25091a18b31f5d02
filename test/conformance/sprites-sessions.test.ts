/**
 * Sprites exec sessions, TTY mode, kill and HTTP exec (reference/sprites-api.md §2.6, §3, §9),
 * spoken with a raw `ws` client and `fetch`: upgrade headers, the session list, attach with
 * scrollback replay and heyod's `?offset=` extension, the NDJSON kill stream in both the query
 * and the JSON-body form, the framed HTTP exec body, and how long a command outlives its client.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import * as Heyod from "../support/Heyod.js"
import { Client, exec, isRecord, Sandboxes, stopAndCheck } from "./Wire.js"

const NAME = "sprite-sessions"
const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

type Message =
  | { readonly kind: "text"; readonly json: Record<string, unknown> }
  | { readonly kind: "binary"; readonly bytes: Buffer }

/**
 * One exec socket, recording every frame in order. `until` waits for a condition on what has
 * arrived so far, failing with the frames seen when it does not come.
 */
class Socket {
  readonly messages: Array<Message> = []
  readonly closed: Promise<number>
  private waiters: Array<() => void> = []
  constructor(readonly ws: WebSocket, readonly headers: Record<string, string | Array<string> | undefined>) {
    this.closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)))
    ws.on("message", (data: Buffer, isBinary) => {
      this.messages.push(
        isBinary ? { kind: "binary", bytes: Buffer.from(data) } : { kind: "text", json: JSON.parse(data.toString()) }
      )
      for (const waiter of this.waiters) waiter()
    })
    ws.on("close", () => {
      for (const waiter of this.waiters) waiter()
    })
  }

  get texts(): Array<Record<string, unknown>> {
    return this.messages.flatMap((m) => (m.kind === "text" ? [m.json] : []))
  }

  /** Every binary frame joined (TTY mode: the raw terminal bytes). */
  get output(): Buffer {
    return Buffer.concat(this.messages.flatMap((m) => (m.kind === "binary" ? [m.bytes] : [])))
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
          reject(new Error(`socket closed before ${what}; frames: ${this.describe()}`))
        }
      }
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check)
        reject(new Error(`no ${what} within ${timeoutMs} ms; frames: ${this.describe()}`))
      }, timeoutMs)
      this.waiters.push(check)
      check()
    })
  }

  untilOutput(pattern: RegExp, timeoutMs?: number) {
    return this.until(() => pattern.test(this.output.toString("latin1")), `output matching ${pattern}`, timeoutMs)
  }

  sessionInfo(): Promise<Record<string, unknown>> {
    return this.until(() => this.texts.some((t) => t["type"] === "session_info"), "session_info").then(
      () => this.texts.find((t) => t["type"] === "session_info")!
    )
  }

  describe(): string {
    return JSON.stringify(this.messages.map((m) => (m.kind === "text" ? m.json : m.bytes.toString("latin1")))).slice(0, 2000)
  }
}

type Refused = { readonly status: number; readonly body: string }

const connect = (url: string, headers: Record<string, string> = {}) =>
  new Promise<Socket | Refused>((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    let upgradeHeaders: Record<string, string | Array<string> | undefined> = {}
    // Frames may follow the 101 at once: record them from the first one on.
    let socket: Socket | undefined
    ws.on("upgrade", (response) => {
      upgradeHeaders = response.headers
      socket = new Socket(ws, upgradeHeaders)
    })
    ws.on("open", () => resolve(socket!))
    ws.on("unexpected-response", (_request, response) => {
      let body = ""
      response.on("data", (d: Buffer) => (body += d.toString()))
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }))
    })
    ws.on("error", (error) => {
      if (!String(error.message).includes("Unexpected server response")) reject(error)
    })
  })

const open = async (url: string, headers?: Record<string, string>): Promise<Socket> => {
  const result = await connect(url, headers)
  if (!(result instanceof Socket)) throw new Error(`upgrade refused: ${result.status} ${result.body}`)
  return result
}

describe("Sprites exec sessions, TTY, kill and HTTP exec", () => {
  let heyod: Heyod.Heyod
  let wire: Client
  let sandboxes: Sandboxes
  let sandboxId = ""
  let ws = ""
  let http = ""

  const execUrl = (argv: ReadonlyArray<string>, extra = "") =>
    `${ws}/exec?${argv.map((a) => `cmd=${encodeURIComponent(a)}`).join("&")}${extra}`

  /** How many processes in the sandbox run exactly `args` (via the Heyo exec route). */
  const running = async (args: string) =>
    Number((await exec(wire, sandboxId, `ps -eo args | grep -c '^${args}$' || true`)).stdout.trim())

  const kill = (id: string, query = "", init: RequestInit = {}) =>
    fetch(`${http}/exec/${id}/kill${query}`, { method: "POST", ...init })

  const ndjson = async (response: Response) =>
    (await response.text()).split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line) as Record<string, unknown>)

  beforeAll(async () => {
    heyod = await Heyod.start({
      args: ["--exec-linger", "500ms", "--kill-grace", "300ms", "--session-retention", "30s", "--scrollback-bytes", "4096"]
    })
    wire = new Client(heyod.url)
    sandboxes = new Sandboxes(wire)
    sandboxId = await sandboxes.running({ name: NAME })
    http = `${heyod.url}/v1/sprites/${NAME}`
    ws = http.replace("http", "ws")
  }, 60_000)
  afterAll(async () => {
    if (heyod === undefined) return
    await sandboxes.killEverything()
    await stopAndCheck(heyod)
  }, 30_000)

  it("HEAD .../exec answers 200 with Sprite-Version (the Go SDK's version probe)", async () => {
    const response = await fetch(`${http}/exec`, { method: "HEAD" })
    expect(response.status).toBe(200)
    expect(response.headers.get("sprite-version")).toBeTruthy()
    const missing = await fetch(`${heyod.url}/v1/sprites/no-such-sprite/exec`, { method: "HEAD" })
    expect(missing.status).toBe(404)
    const list = await fetch(`${heyod.url}/v1/sprites/no-such-sprite/exec`)
    expect(list.status).toBe(404)
    expect((await list.json()) as Record<string, unknown>).toMatchObject({ error: expect.any(String), message: expect.any(String) })
  })

  it("the 101 carries Sprite-Version and X-Sprite-Capabilities: signal", async () => {
    const socket = await open(execUrl(["true"]))
    expect(socket.headers["sprite-version"]).toBeTruthy()
    const capabilities = String(socket.headers["x-sprite-capabilities"] ?? "").split(",").map((c) => c.trim())
    expect(capabilities).toContain("signal")
    expect(await socket.closed).toBe(1000)
  })

  it("TTY: session_info with tty/cols/rows, raw bytes both ways, resize changes stty size, signal INT, exit JSON, close 1000", async () => {
    const script = "tty; stty size; read line; echo got-$line; stty size; trap 'echo trapped' INT; sleep 1003; echo done-$?"
    const socket = await open(execUrl(["sh", "-c", script], "&tty=true&cols=100&rows=30&stdin=true"))
    const info = await socket.sessionInfo()
    expect(socket.messages[0]).toMatchObject({ kind: "text", json: { type: "session_info" } })
    expect(info).toMatchObject({ tty: true, cols: 100, rows: 30 })
    expect(info["session_id"]).toMatch(/^\d+$/)
    // unix seconds here (§1.4), unlike the list's RFC 3339
    expect(Number.isInteger(info["created"])).toBe(true)
    expect(Math.abs(Number(info["created"]) - Date.now() / 1000)).toBeLessThan(60)

    await socket.untilOutput(/30 100\r\n/)
    // raw PTY bytes: no stream-id prefix on any frame
    expect(socket.output.toString("latin1")).toMatch(/^\/dev\/pts\/\d+\r\n30 100\r\n/)

    socket.ws.send(JSON.stringify({ type: "resize", cols: 120, rows: 40 }))
    socket.ws.send(Buffer.from("abc\n"))
    await socket.untilOutput(/got-abc\r\n40 120\r\n/)

    // the sleep runs in the foreground once the shell reached it
    for (let i = 0; i < 50 && (await running("sleep 1003")) === 0; i++) await sleep(100)
    socket.ws.send(JSON.stringify({ type: "signal", signal: "INT" }))
    await socket.untilOutput(/done-130/)
    expect(socket.output.toString("latin1")).toContain("trapped")
    expect(await socket.closed).toBe(1000)
    expect(socket.texts.at(-1)).toEqual({ type: "exit", exit_code: 0 })
    // TTY mode carries no [0x03, code] frame: the exit is the JSON message
    expect(socket.texts.filter((t) => t["type"] === "exit")).toHaveLength(1)
  })

  it("GET .../exec lists sessions with the documented fields; is_active follows the attachment", async () => {
    const socket = await open(execUrl(["sh", "-c", "echo listed; exec sleep 1005"], "&tty=true"))
    const info = await socket.sessionInfo()
    const id = String(info["session_id"])
    await socket.untilOutput(/listed/)
    const list = async () => {
      const response = await fetch(`${http}/exec`)
      expect(response.status).toBe(200)
      expect(response.headers.get("content-type")).toMatch(/^application\/json/)
      expect(response.headers.get("sprite-version")).toBeTruthy()
      const body = (await response.json()) as { sessions: Array<Record<string, unknown>> }
      expect(Array.isArray(body.sessions)).toBe(true)
      return body.sessions.find((s) => s["id"] === id)
    }
    const attached = await list()
    expect(attached, `session ${id} is not listed`).toBeDefined()
    expect(typeof attached!["id"]).toBe("string")
    expect(typeof attached!["command"]).toBe("string")
    expect(attached!["command"]).toContain("sleep 1005")
    expect(typeof attached!["workdir"]).toBe("string")
    expect(attached!["created"]).toMatch(rfc3339)
    expect(typeof attached!["bytes_per_second"]).toBe("number")
    expect(attached!["last_activity"]).toMatch(rfc3339)
    expect(attached!["tty"]).toBe(true)
    expect(attached!["is_active"]).toBe(true)

    socket.ws.close()
    await socket.closed
    let detached = await list()
    for (let i = 0; i < 20 && detached?.["is_active"] !== false; i++) {
      await sleep(50)
      detached = await list()
    }
    expect(detached?.["is_active"], "a detached session shows is_active:false").toBe(false)

    const killed = await ndjson(await kill(id, "?signal=KILL&timeout=5s"))
    expect(killed.at(-1)?.["type"]).toBe("complete")
  })

  it("attach: session_info (with offset), then the scrollback as data, then live output; ?offset=N replays from N", async () => {
    const creator = await open(execUrl(["sh", "-c", "echo first; read a; echo second-$a; read b; echo third-$b"], "&tty=true"))
    const id = String((await creator.sessionInfo())["session_id"])
    await creator.untilOutput(/first\r\n/)
    creator.ws.close()
    await creator.closed

    const first = await open(`${ws}/exec/${id}?stdin=true`)
    const info = await first.sessionInfo()
    expect(first.messages[0]).toMatchObject({ kind: "text", json: { type: "session_info", session_id: id, tty: true } })
    expect(info["offset"]).toBe(0)
    expect(first.headers["x-sprite-capabilities"]).toContain("signal")
    await first.untilOutput(/first\r\n/)
    // the replay begins with the command's first byte
    expect(first.output.toString("latin1")).toMatch(/^first\r\n/)
    first.ws.send(Buffer.from("A\n"))
    await first.untilOutput(/second-A\r\n/)
    const seen = first.output
    first.ws.close()
    await first.closed

    const from = seen.indexOf("second-A")
    expect(from).toBeGreaterThan(0)
    const second = await open(`${ws}/exec/${id}?stdin=true&offset=${from}`)
    expect((await second.sessionInfo())["offset"]).toBe(from)
    await second.untilOutput(/second-A\r\n/)
    expect(second.output.subarray(0, seen.length - from).equals(seen.subarray(from))).toBe(true)
    expect(second.texts.some((t) => t["type"] === "output_lost")).toBe(false)
    second.ws.send(Buffer.from("B\n"))
    await second.untilOutput(/third-B\r\n/)
    expect(await second.closed).toBe(1000)
    expect(second.texts.at(-1)).toEqual({ type: "exit", exit_code: 0 })
  })

  it("non-TTY attach: the scrollback as 0x01/0x02 frames, stdin [0x00, ...] and [0x04], then [0x03, code], exit JSON, close 1000", async () => {
    const script = "echo out-1; echo err-1 >&2; read x; echo out-$x; cat >/dev/null; echo after-eof"
    const creator = await open(execUrl(["sh", "-c", script], "&stdin=true&max_run_after_disconnect=30s"))
    const id = String((await creator.sessionInfo())["session_id"])
    await creator.until(() => creator.output.toString().includes("err-1"), "both first lines")
    creator.ws.close()
    await creator.closed

    const attached = await open(`${ws}/exec/${id}?stdin=true`)
    expect(await attached.sessionInfo()).toMatchObject({ type: "session_info", session_id: id, tty: false, offset: 0 })
    const frames = () => attached.messages.flatMap((m) => (m.kind === "binary" ? [[m.bytes[0], m.bytes.subarray(1).toString()]] : []))
    await attached.until(() => frames().length >= 2, "the replayed frames")
    expect(frames().slice(0, 2)).toEqual([[1, "out-1\n"], [2, "err-1\n"]])
    attached.ws.send(Buffer.concat([Buffer.from([0x00]), Buffer.from("2\n")]))
    await attached.until(() => frames().some(([, text]) => text === "out-2\n"), "out-2")
    attached.ws.send(Buffer.from([0x04]))
    expect(await attached.closed).toBe(1000)
    expect(frames().slice(2)).toEqual([[1, "out-2\n"], [1, "after-eof\n"], [3, "\u0000"]])
    expect(attached.texts.at(-1)).toEqual({ type: "exit", exit_code: 0 })
  })

  it("attach with an offset older than the scrollback gets output_lost right after session_info, then the tail", async () => {
    // Prints well over --scrollback-bytes (4096) with no client attached.
    const creator = await open(execUrl(["sh", "-c", "read go; seq 1 3000; echo end-of-seq; exec sleep 1006"], "&tty=true"))
    const id = String((await creator.sessionInfo())["session_id"])
    creator.ws.send(Buffer.from("\n"))
    creator.ws.terminate()
    for (let i = 0; i < 50 && (await running("sleep 1006")) === 0; i++) await sleep(100)

    const late = await open(`${ws}/exec/${id}?offset=0`)
    const info = await late.sessionInfo()
    await late.untilOutput(/end-of-seq\r\n/)
    const held = Number(info["offset"])
    expect(held).toBeGreaterThan(0)
    expect(late.messages[0]).toMatchObject({ kind: "text", json: { type: "session_info" } })
    expect(late.messages[1]).toEqual({ kind: "text", json: { type: "output_lost", requested_offset: 0, offset: held } })
    expect(late.output.length).toBeLessThanOrEqual(4096)
    expect(late.output.toString("latin1")).toMatch(/\r\n3000\r\nend-of-seq\r\n$/)
    late.ws.close()
    await late.closed

    const killed = await ndjson(await kill(id, "?signal=SIGKILL&timeout=5s"))
    expect(killed.at(-1)?.["type"]).toBe("complete")
  })

  /** A non-TTY `sleep` that outlives its client for 30 s; resolves with its session id. */
  const detachedSleep = async (seconds: number) => {
    const socket = await open(execUrl(["sleep", String(seconds)], "&max_run_after_disconnect=30s"))
    const id = String((await socket.sessionInfo())["session_id"])
    socket.ws.close()
    await socket.closed
    return id
  }

  it("kill with query signal=SIGTERM&timeout=10s streams NDJSON signal ... complete with the exit code", async () => {
    const id = await detachedSleep(1011)
    const response = await kill(id, "?signal=SIGTERM&timeout=10s")
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toMatch(/^application\/x-ndjson/)
    const events = await ndjson(response)
    expect(events[0]).toMatchObject({ type: "signal", signal: "SIGTERM", pid: Number(id) })
    expect(typeof events[0]!["message"]).toBe("string")
    expect(events.map((e) => e["type"])).toEqual(["signal", "exited", "complete"])
    expect(events.at(-1)).toEqual({ type: "complete", exit_code: 143 })
    expect(await running("sleep 1011")).toBe(0)
  })

  it("kill in the Python SDK's form: a JSON body {signal, timeout} in integer seconds", async () => {
    const id = await detachedSleep(1012)
    const response = await kill(id, "", {
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ signal: "SIGTERM", timeout: 10 })
    })
    expect(response.status).toBe(200)
    const events = await ndjson(response)
    expect(events[0]).toMatchObject({ type: "signal", signal: "SIGTERM" })
    expect(events.at(-1)).toEqual({ type: "complete", exit_code: 143 })
    expect(await running("sleep 1012")).toBe(0)
  })

  /**
   * A command that ignores SIGTERM, detached: `kill?signal=TERM&timeout=500ms` must wait, then
   * escalate to SIGKILL (§2.6: signal -> timeout -> killed -> complete), and leave nothing running.
   */
  const escalation = async (tty: boolean, marker: string) => {
    const script = `trap '' TERM; echo ignoring; sleep ${marker}; true`
    const socket = await open(execUrl(["sh", "-c", script], `&max_run_after_disconnect=30s${tty ? "&tty=true" : ""}`))
    const id = String((await socket.sessionInfo())["session_id"])
    await socket.untilOutput(/ignoring/)
    for (let i = 0; i < 50 && (await running(`sleep ${marker}`)) === 0; i++) await sleep(100)
    socket.ws.close()
    await socket.closed
    const events = await ndjson(await kill(id, "?signal=TERM&timeout=500ms"))
    expect(events.map((e) => e["type"]), JSON.stringify(events)).toEqual(["signal", "timeout", "killed", "complete"])
    expect(events.at(-1)).toEqual({ type: "complete", exit_code: 137 })
    expect(await running(`sleep ${marker}`), "the command still runs after its kill completed").toBe(0)
  }

  it("kill escalates on a TTY session that ignores SIGTERM: timeout, killed, complete", () => escalation(true, "1013"))

  it("kill escalates on a non-TTY session that ignores SIGTERM: timeout, killed, complete", () => escalation(false, "1014"))

  /** A command with a TERM handler gets `{"type":"signal","signal":"TERM"}`: its handler decides the exit. */
  const handled = async (tty: boolean) => {
    const script = "trap 'echo cleaning-up; exit 7' TERM; echo armed; while true; do sleep 0.1; done"
    const socket = await open(execUrl(["sh", "-c", script], tty ? "&tty=true" : ""))
    await socket.untilOutput(/armed/)
    socket.ws.send(JSON.stringify({ type: "signal", signal: "TERM" }))
    expect(await socket.closed).toBe(1000)
    expect(socket.output.toString()).toContain("cleaning-up")
    expect(socket.texts.at(-1)).toEqual({ type: "exit", exit_code: 7 })
  }

  it("a TTY signal frame reaches the command's handler: its own exit code comes back", () => handled(true))

  it("a non-TTY signal frame reaches the command's handler: its own exit code comes back", () => handled(false))

  it("kill: an exited session gets 410, an unknown one 404, each with the Sprites error body", async () => {
    const socket = await open(execUrl(["true"]))
    const id = String((await socket.sessionInfo())["session_id"])
    expect(await socket.closed).toBe(1000)
    const gone = await kill(id, "?signal=SIGTERM&timeout=10s")
    expect(gone.status).toBe(410)
    const goneBody = (await gone.json()) as Record<string, unknown>
    expect(typeof goneBody["error"]).toBe("string")
    expect(typeof goneBody["message"]).toBe("string")
    expect(String(goneBody["message"]).length).toBeGreaterThan(0)

    const bogus = await kill(await detachedSleep(1015), "?signal=BOGUS")
    expect(bogus.status).toBe(400)
    expect(typeof ((await bogus.json()) as Record<string, unknown>)["message"]).toBe("string")
    expect(await running("sleep 1015"), "a refused kill signals nothing").toBe(1)

    const unknown = await kill("999999", "?signal=SIGTERM")
    expect(unknown.status).toBe(404)
    const unknownBody = (await unknown.json()) as Record<string, unknown>
    expect(typeof unknownBody["error"]).toBe("string")
    expect(typeof unknownBody["message"]).toBe("string")
  })

  it("attach to an unknown session is a plain HTTP 404 with a JSON body", async () => {
    const refused = await connect(`${ws}/exec/999999`)
    expect(refused instanceof Socket).toBe(false)
    expect((refused as Refused).status).toBe(404)
    const body = JSON.parse((refused as Refused).body) as Record<string, unknown>
    expect(isRecord(body) && typeof body["message"]).toBe("string")
    expect(typeof body["error"]).toBe("string")
  })

  const httpExec = async (argv: ReadonlyArray<string>, body?: Buffer) => {
    const query = argv.map((a) => `cmd=${encodeURIComponent(a)}`).join("&") + `&path=${encodeURIComponent(argv[0]!)}`
    const response = await fetch(`${http}/exec?${query}${body === undefined ? "" : "&stdin=true"}`, {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream" },
      ...(body === undefined ? {} : { body: new Uint8Array(body) })
    })
    return { response, bytes: Buffer.from(await response.arrayBuffer()) }
  }

  it("HTTP exec: 0x01 stdout, 0x02 stderr, 0x03 code frames in an application/octet-stream body", async () => {
    const { response, bytes } = await httpExec(["sh", "-c", "printf out; sleep 0.1; printf err >&2; sleep 0.1; exit 7"])
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toMatch(/^application\/octet-stream/)
    expect(response.headers.get("sprite-version")).toBeTruthy()
    expect([...bytes]).toEqual([0x01, ...Buffer.from("out"), 0x02, ...Buffer.from("err"), 0x03, 7])
  })

  it("HTTP exec and exec upgrades refuse bad requests with the Sprites error body", async () => {
    const tty = await fetch(`${http}/exec?cmd=true&tty=true`, { method: "POST" })
    expect(tty.status).toBe(400)
    expect((await tty.json()) as Record<string, unknown>).toMatchObject({ error: expect.any(String), message: expect.any(String) })
    const missing = await fetch(`${heyod.url}/v1/sprites/no-such-sprite/exec?cmd=true`, { method: "POST" })
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as Record<string, unknown>)["message"]).toContain("no-such-sprite")
    const badDuration = await connect(execUrl(["true"], "&max_run_after_disconnect=soon"))
    expect(badDuration instanceof Socket).toBe(false)
    expect((badDuration as Refused).status).toBe(400)
    expect(typeof JSON.parse((badDuration as Refused).body).message).toBe("string")
  })

  it("HTTP exec: the request body is the command's stdin; without a body stdin is closed", async () => {
    const fed = await httpExec(["cat"], Buffer.from("hello stdin"))
    expect(fed.response.status).toBe(200)
    expect([...fed.bytes]).toEqual([0x01, ...Buffer.from("hello stdin"), 0x03, 0])
    const started = Date.now()
    const empty = await httpExec(["cat"])
    expect([...empty.bytes]).toEqual([0x03, 0])
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it("how long a command outlives its client: non-TTY --exec-linger, TTY forever, max_run_after_disconnect honoured", async () => {
    const drop = async (argv: ReadonlyArray<string>, extra: string) => {
      const socket = await open(execUrl(argv, extra))
      const id = String((await socket.sessionInfo())["session_id"])
      socket.ws.terminate()
      return id
    }
    await drop(["sleep", "1021"], "") // --exec-linger 500ms
    const tty = await drop(["sleep", "1022"], "&tty=true") // forever
    await drop(["sleep", "1023"], "&max_run_after_disconnect=2s")
    const forever = await drop(["sleep", "1024"], "&max_run_after_disconnect=0")
    await drop(["sleep", "1025"], "&tty=true&max_run_after_disconnect=1s")

    await sleep(1_300)
    expect(await running("sleep 1021"), "non-TTY default: ended after --exec-linger").toBe(0)
    expect(await running("sleep 1022"), "TTY default: runs on").toBe(1)
    expect(await running("sleep 1023"), "max_run_after_disconnect=2s: still within its 2 s").toBe(1)
    expect(await running("sleep 1024"), "max_run_after_disconnect=0: forever").toBe(1)
    await sleep(1_000)
    expect(await running("sleep 1023"), "max_run_after_disconnect=2s: ended after 2 s").toBe(0)
    expect(await running("sleep 1025"), "TTY with max_run_after_disconnect=1s: ended").toBe(0)
    expect(await running("sleep 1022"), "TTY default: still runs").toBe(1)
    expect(await running("sleep 1024"), "max_run_after_disconnect=0: still runs").toBe(1)

    for (const id of [tty, forever]) {
      const events = await ndjson(await kill(id, "?signal=KILL&timeout=5s"))
      expect(events.at(-1)?.["type"]).toBe("complete")
    }
  }, 30_000)
})
