/**
 * Raw-wire helpers for the conformance and isolation suites. Everything here speaks plain HTTP
 * with the global `fetch` and hand-written JSON, following reference/heyo-api.md, and never
 * imports the protocol schemas or the SDK: these suites check our types against the reference,
 * not against themselves.
 */
import * as fs from "node:fs"
import { expect } from "vitest"
import * as Heyod from "../support/Heyod.js"

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/** One HTTP exchange, kept whole so a failing assertion can print the request and the reply. */
export interface Reply {
  readonly request: string
  readonly status: number
  readonly contentType: string
  readonly text: string
  /** The parsed body; `undefined` for an empty body, `NOT_JSON` when it does not parse. */
  readonly json: unknown
  readonly millis: number
}

export const NOT_JSON: unique symbol = Symbol("NOT_JSON")

export interface RequestOptions {
  /** A JSON body, serialized with `JSON.stringify`. */
  readonly body?: unknown
  /** A body sent as-is (for malformed JSON and oversized bodies). */
  readonly raw?: string
  /** Extra or overriding headers. */
  readonly headers?: Readonly<Record<string, string>>
  /** `Authorization` header value; `null` sends none; omitted uses the client's key (if any). */
  readonly authorization?: string | null
  readonly timeoutMs?: number
}

const shorten = (text: string, max = 600) => (text.length > max ? `${text.slice(0, max)}... (${text.length} chars)` : text)

export class Client {
  constructor(readonly baseUrl: string, readonly apiKey?: string) {}

  async request(method: string, path: string, options: RequestOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { Accept: "application/json" }
    let body: string | undefined
    if (options.raw !== undefined) {
      body = options.raw
      headers["Content-Type"] = "application/json"
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body)
      headers["Content-Type"] = "application/json"
    }
    const authorization = options.authorization === undefined
      ? (this.apiKey === undefined ? undefined : `Bearer ${this.apiKey}`)
      : options.authorization
    if (authorization !== undefined && authorization !== null) headers["Authorization"] = authorization
    Object.assign(headers, options.headers ?? {})
    const described = `${method} ${path}${body === undefined ? "" : ` ${shorten(body, 300)}`}`
    const started = Date.now()
    let response: Response
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 60_000)
      })
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? ` (cause: ${error.cause.message})` : ""
      return {
        request: described,
        status: -1,
        contentType: "",
        text: `fetch failed: ${String(error)}${cause}`,
        json: NOT_JSON,
        millis: Date.now() - started
      }
    }
    const text = await response.text()
    let json: unknown = undefined
    if (text !== "") {
      try {
        json = JSON.parse(text)
      } catch {
        json = NOT_JSON
      }
    }
    return {
      request: described,
      status: response.status,
      contentType: response.headers.get("content-type") ?? "",
      text,
      json,
      millis: Date.now() - started
    }
  }

  get = (path: string, options?: RequestOptions) => this.request("GET", path, options)
  post = (path: string, body?: unknown, options?: RequestOptions) =>
    this.request("POST", path, body === undefined ? (options ?? {}) : { ...options, body })
  delete = (path: string, options?: RequestOptions) => this.request("DELETE", path, options)
}

/** A one-line description of an exchange, for assertion messages. */
export const show = (reply: Reply) => `${reply.request} -> ${reply.status} ${shorten(reply.text)}`

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The reply's body as an object, failing the test (with the exchange) when it is not one. */
export const objectOf = (reply: Reply): Record<string, unknown> => {
  expect(isRecord(reply.json), `expected a JSON object body: ${show(reply)}`).toBe(true)
  return reply.json as Record<string, unknown>
}

export const expectStatus = (reply: Reply, status: number) => {
  expect(reply.status, show(reply)).toBe(status)
}

/** A JSON success: the status, a JSON content type, and the body as an object. */
export const expectJson = (reply: Reply, status: number): Record<string, unknown> => {
  expectStatus(reply, status)
  expect(reply.contentType, `content-type of ${show(reply)}`).toMatch(/^application\/json/)
  return objectOf(reply)
}

/**
 * A Heyo-dialect error (heyo-api.md §2.9, §6): the status, a JSON body `{message}` with a
 * non-empty human message, which mentions each of `mentions` (case-insensitive) when given.
 */
export const expectError = (reply: Reply, status: number, ...mentions: ReadonlyArray<string>): string => {
  expectStatus(reply, status)
  expect(reply.contentType, `content-type of ${show(reply)}`).toMatch(/^application\/json/)
  const body = objectOf(reply)
  expect(typeof body["message"], `"message" must be a string: ${show(reply)}`).toBe("string")
  const message = String(body["message"])
  expect(message.trim().length, `"message" must not be empty: ${show(reply)}`).toBeGreaterThan(0)
  for (const mention of mentions) {
    expect(message.toLowerCase(), `the message should name "${mention}": ${show(reply)}`).toContain(
      mention.toLowerCase()
    )
  }
  return message
}

export const b64 = (data: string | Uint8Array) => Buffer.from(data).toString("base64")
export const unb64 = (data: unknown) => Buffer.from(String(data), "base64")

export const randomSuffix = () => Math.random().toString(36).slice(2, 10)

// --- SandboxInfo (heyo-api.md §2.1) -----------------------------------------------------------

export const sandboxStatuses = ["provisioning", "running", "stopped", "paused", "failed", "cold-stored"] as const

export const sandboxInfoFields = [
  "id",
  "name",
  "status",
  "image",
  "region",
  "start_command",
  "working_directory",
  "size_class",
  "disk_size_gb",
  "env_vars",
  "setup_hooks",
  "uptime_secs",
  "ttl_seconds",
  "is_deployed",
  "error_message",
  "status_changed_at",
  "urls",
  "guest_ip",
  "metadata",
  "created_at",
  "cpus",
  "memory",
  "backend_type"
] as const

const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

export const idPattern = /^sb-[0-9a-z]{8}$/

const isNonNegativeInteger = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 0
const nullOr = (check: (v: unknown) => boolean) => (v: unknown) => v === null || check(v)
const isString = (v: unknown) => typeof v === "string"
const isStringArray = (v: unknown) => Array.isArray(v) && v.every(isString)
const isStringRecord = (v: unknown) => isRecord(v) && Object.values(v).every(isString)

const boundUrlIssues = (v: unknown, where: string): Array<string> => {
  if (!isRecord(v)) return [`${where}: not an object`]
  const issues: Array<string> = []
  if (!isString(v["subdomain"])) issues.push(`${where}.subdomain: not a string`)
  if (!isNonNegativeInteger(v["port"])) issues.push(`${where}.port: not an integer`)
  return issues
}

/**
 * Everything wrong with a value as a SandboxInfo: exactly the snake_case fields of §2.1, each of
 * its wire type. An empty list means conformant.
 */
export const sandboxInfoIssues = (value: unknown): Array<string> => {
  if (!isRecord(value)) return [`not a JSON object: ${JSON.stringify(value)}`]
  const issues: Array<string> = []
  const keys = Object.keys(value)
  for (const field of sandboxInfoFields) {
    if (!keys.includes(field)) issues.push(`missing field "${field}"`)
  }
  for (const key of keys) {
    if (!(sandboxInfoFields as ReadonlyArray<string>).includes(key)) issues.push(`unexpected field "${key}"`)
  }
  const checks: Record<string, [(v: unknown) => boolean, string]> = {
    id: [(v) => isString(v) && idPattern.test(v as string), "a string sb-xxxxxxxx"],
    name: [isString, "a string"],
    status: [(v) => (sandboxStatuses as ReadonlyArray<unknown>).includes(v), `one of ${sandboxStatuses.join("|")}`],
    image: [isString, "a string"],
    region: [nullOr(isString), "a string or null"],
    start_command: [nullOr(isString), "a string or null"],
    working_directory: [nullOr(isString), "a string or null"],
    size_class: [
      nullOr((v) => ["micro", "mini", "small", "medium", "large", "xlarge"].includes(v as string)),
      "a size class or null"
    ],
    disk_size_gb: [nullOr(isNonNegativeInteger), "a u64 or null"],
    env_vars: [nullOr(isStringRecord), "an object of strings or null"],
    setup_hooks: [nullOr(isStringArray), "an array of strings or null"],
    uptime_secs: [isNonNegativeInteger, "a u64"],
    ttl_seconds: [nullOr(isNonNegativeInteger), "a u64 or null"],
    is_deployed: [(v) => typeof v === "boolean", "a boolean"],
    error_message: [nullOr(isString), "a string or null"],
    status_changed_at: [(v) => isString(v) && rfc3339.test(v as string), "an RFC 3339 timestamp"],
    urls: [Array.isArray, "an array"],
    guest_ip: [nullOr(isString), "a string or null"],
    metadata: [() => true, "any JSON"],
    created_at: [nullOr((v) => isString(v) && rfc3339.test(v as string)), "an RFC 3339 timestamp or null"],
    cpus: [nullOr(isNonNegativeInteger), "a u32 (whole CPUs) or null"],
    memory: [nullOr(isNonNegativeInteger), "a u64 (bytes) or null"],
    backend_type: [nullOr(isString), "a string or null"]
  }
  for (const [field, [check, expected]] of Object.entries(checks)) {
    if (field in value && !check(value[field])) {
      issues.push(`"${field}" should be ${expected}, got ${JSON.stringify(value[field])}`)
    }
  }
  if (Array.isArray(value["urls"])) {
    value["urls"].forEach((u: unknown, i: number) => issues.push(...boundUrlIssues(u, `urls[${i}]`)))
  }
  return issues
}

export const expectSandboxInfo = (value: unknown, context: string): Record<string, unknown> => {
  expect(sandboxInfoIssues(value).join("; "), `SandboxInfo conformance of ${context}`).toBe("")
  return value as Record<string, unknown>
}

// --- sandbox lifecycle helpers ----------------------------------------------------------------

/** Ids of the sandboxes a suite created, so `killAll` can remove them whatever happened. */
export class Sandboxes {
  readonly created = new Set<string>()
  constructor(readonly client: Client) {}

  /** `POST /sandbox-deploy`, expecting 202 `{id, status:"provisioning"}`; returns the id. */
  async deploy(body: unknown): Promise<string> {
    const reply = await this.client.post("/sandbox-deploy", body)
    const json = expectJson(reply, 202)
    expect(typeof json["id"], show(reply)).toBe("string")
    const id = String(json["id"])
    this.created.add(id)
    return id
  }

  /** Polls `GET /deployed-sandboxes/:id` until the status is one of `statuses` (or the deadline). */
  async waitFor(id: string, statuses: ReadonlyArray<string>, timeoutMs = 45_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs
    let last: Reply | undefined
    while (Date.now() < deadline) {
      last = await this.client.get(`/deployed-sandboxes/${id}`)
      if (last.status === 200 && isRecord(last.json) && statuses.includes(String(last.json["status"]))) {
        return last.json
      }
      if (last.status === 200 && isRecord(last.json) && !statuses.includes("failed") && last.json["status"] === "failed") {
        throw new Error(`sandbox ${id} failed while waiting for ${statuses.join("|")}: ${show(last)}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    throw new Error(
      `sandbox ${id} not ${statuses.join("|")} within ${timeoutMs} ms; last: ${last ? show(last) : "none"}`
    )
  }

  /** Deploys and waits for `running`. */
  async running(body: unknown, timeoutMs = 45_000): Promise<string> {
    const id = await this.deploy(body)
    await this.waitFor(id, ["running"], timeoutMs)
    return id
  }

  async kill(id: string): Promise<Reply> {
    const reply = await this.client.delete(`/deployed-sandboxes/${id}`)
    if (reply.status === 204 || reply.status === 404) this.created.delete(id)
    return reply
  }

  /** Deletes every sandbox this suite created; returns the replies that were not 204/404. */
  async killAll(): Promise<Array<string>> {
    const problems: Array<string> = []
    for (const id of [...this.created]) {
      const reply = await this.kill(id)
      if (reply.status !== 204 && reply.status !== 404) problems.push(show(reply))
    }
    return problems
  }

  /**
   * Deletes every sandbox the server lists as well as those this suite created (each suite owns
   * its heyod, so everything listed is ours, including anything a refused request created by
   * mistake).
   */
  async killEverything(): Promise<Array<string>> {
    const listed = await this.client.get("/deployed-sandboxes")
    if (Array.isArray(listed.json)) {
      for (const item of listed.json) if (isRecord(item) && typeof item["id"] === "string") this.created.add(item["id"])
    }
    return this.killAll()
  }
}

export interface ExecResult {
  readonly stdout: string
  readonly stderr: string
  readonly output: string
  readonly exit_code: number
}

/** `POST /sandbox/:id/exec`, expecting 200 and the §2.2 response. */
export const exec = async (
  client: Client,
  id: string,
  command: string,
  extra: { readonly cwd?: string; readonly env?: Record<string, string>; readonly timeoutMs?: number } = {}
): Promise<ExecResult> => {
  const body: Record<string, unknown> = { command }
  if (extra.cwd !== undefined) body["cwd"] = extra.cwd
  if (extra.env !== undefined) body["env"] = extra.env
  const reply = await client.post(`/sandbox/${id}/exec`, body, { timeoutMs: extra.timeoutMs ?? 60_000 })
  const json = expectJson(reply, 200)
  expect(typeof json["stdout"], show(reply)).toBe("string")
  expect(typeof json["stderr"], show(reply)).toBe("string")
  expect(typeof json["exit_code"], show(reply)).toBe("number")
  return {
    stdout: String(json["stdout"]),
    stderr: String(json["stderr"]),
    output: String(json["output"] ?? ""),
    exit_code: Number(json["exit_code"])
  }
}

// --- heyod lifecycle ----------------------------------------------------------------------------

/**
 * Stops heyod and checks it went quickly and left nothing behind; removes its temp data dir only
 * when nothing was left (never `rm -rf` through a leftover mount).
 */
export const stopAndCheck = async (heyod: Heyod.Heyod) => {
  const { millis } = await heyod.stop()
  const left = Heyod.leftovers(heyod.dataDir)
  expect(millis, `heyod took ${millis} ms to stop on SIGTERM`).toBeLessThan(10_000)
  expect(left, `host state left behind by heyod (data dir ${heyod.dataDir})`).toEqual({
    mounts: [],
    netns: [],
    cgroups: [],
    processes: [],
    loops: []
  })
  fs.rmSync(heyod.dataDir, { recursive: true, force: true })
}
