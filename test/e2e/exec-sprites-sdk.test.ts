/**
 * A real client, unchanged: the official Sprites JS SDK (`@fly/sprites` 0.1.0) runs commands,
 * feeds stdin, reads exit codes, lists, attaches to and kills sessions against heyod's exec
 * routes. It targets Node 24's global WebSocket; on Node 20 the `ws` package stands in (it takes
 * the same `{headers}` option and the same event listeners).
 */
import { ExecError, type SpriteCommand, SpritesClient } from "@fly/sprites"
import type { Sprite } from "@fly/sprites"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import * as Heyod from "../support/Heyod.js"
import { Client, Sandboxes, stopAndCheck } from "../conformance/Wire.js"

const KEY = "sprites-exec-key"
const NAME = "e2e-sprites-exec"

/** Everything a command printed on `stream`, as it arrives; resolves once it matches `pattern`. */
const readUntil = (stream: NodeJS.ReadableStream, pattern: RegExp, timeoutMs = 10_000) =>
  new Promise<string>((resolve, reject) => {
    let seen = ""
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in ${JSON.stringify(seen)}`)), timeoutMs)
    const onData = (chunk: Buffer) => {
      seen += chunk.toString("utf8")
      if (pattern.test(seen)) {
        clearTimeout(timer)
        stream.off("data", onData)
        resolve(seen)
      }
    }
    stream.on("data", onData)
  })

/** The command once the SDK has its socket open (writes before that are refused). */
const spawned = (command: SpriteCommand) =>
  new Promise<SpriteCommand>((resolve, reject) => {
    command.once("spawn", () => resolve(command))
    command.once("error", reject)
  })

describe("@fly/sprites 0.1.0 exec against heyod", () => {
  let heyod: Heyod.Heyod
  let sandboxes: Sandboxes
  let sprite: Sprite
  const original = (globalThis as { WebSocket?: unknown }).WebSocket
  beforeAll(async () => {
    ;(globalThis as { WebSocket?: unknown }).WebSocket = WebSocket
    heyod = await Heyod.start({ apiKey: KEY, args: ["--exec-linger", "1s", "--kill-grace", "300ms"] })
    sandboxes = new Sandboxes(new Client(heyod.url, KEY))
    await sandboxes.running({ name: NAME })
    sprite = new SpritesClient(KEY, { baseURL: heyod.url }).sprite(NAME)
  }, 60_000)
  afterAll(async () => {
    ;(globalThis as { WebSocket?: unknown }).WebSocket = original
    if (heyod === undefined) return
    await sandboxes.killEverything()
    await stopAndCheck(heyod)
  }, 30_000)

  it("execFile: stdout and stderr apart, exit code 0; env and cwd reach the command", async () => {
    const result = await sprite.execFile("sh", ["-c", "echo out; echo err >&2"])
    expect(result).toEqual({ stdout: "out\n", stderr: "err\n", exitCode: 0 })

    const placed = await sprite.execFile("/bin/sh", ["-c", "echo \"$GREETING\"; pwd"], {
      env: { GREETING: "hello from the SDK", PATH: "/usr/local/bin:/usr/bin:/bin" },
      cwd: "/tmp"
    })
    expect(placed.stdout).toBe("hello from the SDK\n/tmp\n")

    const split = await sprite.exec("echo several words")
    expect(split.stdout).toBe("several words\n")
  })

  it("a non-zero exit rejects with ExecError carrying the code and the output", async () => {
    const failure = await sprite.execFile("sh", ["-c", "echo partial; echo oops >&2; exit 3"]).then(
      () => undefined,
      (error: unknown) => error
    )
    expect(failure).toBeInstanceOf(ExecError)
    const error = failure as ExecError
    expect(error.exitCode).toBe(3)
    expect(error.stdout).toBe("partial\n")
    expect(error.stderr).toBe("oops\n")
    for (const code of [1, 255]) {
      const other = await sprite.execFile("sh", ["-c", `exit ${code}`]).catch((e: ExecError) => e)
      expect((other as ExecError).exitCode).toBe(code)
    }
  })

  it("spawn: stdin written and ended reaches the command; wait() gives the exit code", async () => {
    const cat = await spawned(sprite.spawn("sh", ["-c", "cat; echo eof-seen"]))
    const output = readUntil(cat.stdout, /eof-seen\n/)
    cat.stdin.write("line one\n")
    cat.stdin.write(Buffer.from([0x00, 0xff, 0x0a]))
    cat.stdin.end("last line\n")
    expect(await output).toBe("line one\n\u0000\ufffd\nlast line\neof-seen\n")
    expect(await cat.wait()).toBe(0)
  })

  it("spawn: kill() sends SIGTERM over the socket; the exit code is the shell's 143", async () => {
    const sleeper = await spawned(sprite.spawn("sh", ["-c", "echo up; exec sleep 1041"]))
    await readUntil(sleeper.stdout, /up\n/)
    sleeper.kill("SIGTERM")
    expect(await sleeper.wait()).toBe(143)
  })

  it("spawn with a TTY: size from rows/cols, resize, exit through the close code", async () => {
    const term = await spawned(sprite.spawn("sh", ["-c", "stty size; read line; stty size"], { tty: true, rows: 30, cols: 100 }))
    await readUntil(term.stdout, /30 100\r\n/)
    term.resize(120, 40)
    term.stdin.write("\n")
    await readUntil(term.stdout, /40 120\r\n/)
    expect(await term.wait()).toBe(0)
  })

  it("listSessions, attachSession (scrollback, then live), killSession", async () => {
    const session = await spawned(sprite.createSession("sh", ["-c", "echo started-$((40+2)); read x; echo got-$x; exec sleep 1042"]))
    await readUntil(session.stdout, /started-42\r\n/)

    const sessions = await sprite.listSessions()
    const listed = sessions.find((s) => s.command.includes("started-"))
    expect(listed, JSON.stringify(sessions)).toBeDefined()
    expect(typeof listed!.id).toBe("string")
    expect(listed!.tty).toBe(true)
    expect(listed!.isActive).toBe(true)
    expect(Number.isNaN(listed!.created.getTime())).toBe(false)
    expect(Math.abs(listed!.created.getTime() - Date.now())).toBeLessThan(60_000)
    expect(listed!.lastActivity instanceof Date && !Number.isNaN(listed!.lastActivity.getTime())).toBe(true)

    const attached = await spawned(sprite.attachSession(listed!.id))
    const replayed = readUntil(attached.stdout, /started-42\r\n/)
    expect(await replayed).toMatch(/^started-42\r\n/)
    const live = readUntil(attached.stdout, /got-hi\r\n/)
    attached.stdin.write("hi\n")
    await live

    const events: Array<{ type: string; exitCode?: number }> = []
    await (await sprite.killSession(listed!.id, "SIGTERM", "5s")).processAll((e: { type: string; exitCode?: number }) => {
      events.push(e)
    })
    expect(events[0]?.type).toBe("signal")
    expect(events.at(-1)).toMatchObject({ type: "complete", exitCode: 143 })
    await attached.wait()
    await session.wait()
    // the server sees both sockets close a moment after the clients saw the exit
    let active = true
    for (let i = 0; i < 40 && active; i++) {
      active = (await sprite.listSessions()).find((s) => s.id === listed!.id)?.isActive ?? false
      if (active) await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(active, "the ended session still shows is_active").toBe(false)
  })

  // The SDK takes each read of the response body as one frame (its README warns about this).
  // heyod writes each frame as its own HTTP chunk, but Node's fetch joins chunks that arrive
  // before the SDK reads again, so the commands leave a moment between their output and exit.
  it("execFileHTTP: framed HTTP exec with stdin from input, exit codes", async () => {
    const fed = await sprite.execFileHTTP("sh", ["-c", "tr a-z A-Z; sleep 0.2"], { input: "shout\n" })
    expect(fed).toEqual({ stdout: "SHOUT\n", stderr: "", exitCode: 0 })
    const failed = await sprite.execFileHTTP("sh", ["-c", "echo no >&2; sleep 0.2; exit 4"]).catch((e: ExecError) => e)
    expect(failed).toBeInstanceOf(ExecError)
    expect((failed as ExecError).exitCode).toBe(4)
  })
})
