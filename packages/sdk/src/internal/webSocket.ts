/**
 * The SDK's one WebSocket connector, on the `ws` package: it can send the bearer header (the
 * WHATWG WebSocket cannot) and it can stop reading (`pause`), which @effect/platform's Socket
 * cannot, so a slow consumer holds bounded memory: past `highWaterBytes` of unconsumed
 * messages the socket is paused, and TCP flow control pushes back on the server.
 *
 * Upgrade refusals are read as HTTP responses and become the same typed errors as any call
 * (404 NotFound, 401/403 Authentication, other statuses Api with the body).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import type * as http from "node:http"
import WebSocket from "ws"
import type { StandardWebSocket, WebSocketConstructor } from "../HeyoClient.js"
import * as HeyoError from "../HeyoError.js"
import { describeCause, statusError } from "./http.js"

export interface ConnectOptions {
  readonly path: string
  /** Repeated keys are allowed (`cmd=sh&cmd=-c`). */
  readonly query?: ReadonlyArray<readonly [string, string]> | undefined
}

export interface Connection {
  /** Text frames as strings, binary frames as bytes; ends when the socket closes. */
  readonly messages: Stream.Stream<string | Uint8Array, HeyoError.Connection>
  /** Resolves once the socket buffers less than `highWaterBytes`. */
  readonly send: (data: Uint8Array | string) => Effect.Effect<void, HeyoError.Connection>
  /** The close code once closed; none while open. */
  readonly closeCode: Effect.Effect<Option.Option<number>>
}

export interface ConnectorConfig {
  readonly baseUrl: string
  readonly apiKey: Option.Option<Redacted.Redacted>
  /** Time allowed for the upgrade. */
  readonly timeout: Duration.Duration
  readonly highWaterBytes?: number | undefined
}

const defaultHighWater = 1024 * 1024
const maxErrorBody = 64 * 1024

type Item =
  | { readonly _tag: "Message"; readonly data: string | Uint8Array; readonly size: number }
  | { readonly _tag: "Closed" }
  | { readonly _tag: "Failed"; readonly error: HeyoError.Connection }

/**
 * The next message of a socket's queue. A Closed marker is put back, so every later pull ends
 * too; `onMessage` sees each message taken (for read backpressure).
 */
const takeFrom = (queue: Queue.Queue<Item>, onMessage: (size: number) => void = () => undefined) =>
  Effect.flatMap(Queue.take(queue), (item): Effect.Effect<string | Uint8Array, Option.Option<HeyoError.Connection>> => {
    switch (item._tag) {
      case "Message":
        onMessage(item.size)
        return Effect.succeed(item.data)
      case "Closed":
        Queue.unsafeOffer(queue, item)
        return Effect.fail(Option.none())
      case "Failed":
        return Effect.fail(Option.some(item.error))
    }
  })

const toBytes = (data: WebSocket.RawData): Uint8Array => {
  const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}

export const urlOf = (baseUrl: string, options: ConnectOptions): string => {
  const url = new URL(baseUrl.replace(/^http/, "ws") + (options.path.startsWith("/") ? options.path : `/${options.path}`))
  for (const [key, value] of options.query ?? []) url.searchParams.append(key, value)
  return url.toString()
}

/** Opens a socket for the Scope's lifetime; closing the Scope closes it (code 1000). */
export const connect = (config: ConnectorConfig, options: ConnectOptions) =>
  Effect.gen(function*() {
    const call = `WSS ${options.path}`
    const highWater = config.highWaterBytes ?? defaultHighWater
    const lowWater = highWater / 4
    const queue = yield* Effect.acquireRelease(Queue.unbounded<Item>(), Queue.shutdown)
    let buffered = 0
    let paused = false
    let closeCode: number | undefined

    const ws = yield* Effect.acquireRelease(
      Effect.async<WebSocket, HeyoError.HttpError>((resume) => {
        let settled = false
        const settle = (effect: Effect.Effect<WebSocket, HeyoError.HttpError>) => {
          if (settled) return
          settled = true
          resume(effect)
        }
        const headers: Record<string, string> = {}
        if (Option.isSome(config.apiKey)) headers["authorization"] = `Bearer ${Redacted.value(config.apiKey.value)}`
        let ws: WebSocket
        try {
          ws = new WebSocket(urlOf(config.baseUrl, options), {
            headers,
            handshakeTimeout: Duration.toMillis(config.timeout),
            perMessageDeflate: false
          })
        } catch (error) {
          settle(Effect.fail(new HeyoError.Connection({ message: `cannot connect (calling ${call}): ${describeCause(error)}`, cause: error })))
          return
        }
        ws.binaryType = "nodebuffer"
        ws.on("unexpected-response", (request: http.ClientRequest, response: http.IncomingMessage) => {
          const chunks: Array<Buffer> = []
          let size = 0
          response.on("data", (chunk: Buffer) => {
            if (size < maxErrorBody) chunks.push(chunk)
            size += chunk.length
          })
          const done = () => {
            request.destroy()
            const text = Buffer.concat(chunks).toString("utf8")
            const headers = Object.fromEntries(
              Object.entries(response.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : v])
            )
            settle(Effect.flatMap(statusError(call, response.statusCode ?? 0, text, headers), Effect.fail))
          }
          response.once("end", done)
          response.once("error", done)
        })
        ws.on("message", (data, isBinary) => {
          const bytes = toBytes(data)
          const size = bytes.byteLength
          buffered += size
          Queue.unsafeOffer(queue, {
            _tag: "Message",
            data: isBinary ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"),
            size
          })
          if (!paused && buffered > highWater) {
            paused = true
            ws.pause()
          }
        })
        ws.on("error", (error) => {
          const failure = new HeyoError.Connection({ message: `network error (calling ${call}): ${describeCause(error)}`, cause: error })
          if (!settled) settle(Effect.fail(failure))
          else Queue.unsafeOffer(queue, { _tag: "Failed", error: failure })
        })
        ws.on("close", (code) => {
          closeCode = code
          Queue.unsafeOffer(queue, { _tag: "Closed" })
        })
        ws.once("open", () => settle(Effect.succeed(ws)))
        return Effect.sync(() => ws.terminate())
      }),
      (ws) =>
        Effect.sync(() => {
          if (ws.readyState === WebSocket.CLOSED) return
          // The peer's close reply must be read even if the consumer had paused us; a peer that
          // never answers is cut off shortly after.
          ws.close(1000)
          ws.resume()
          setTimeout(() => ws.terminate(), 1000).unref()
        })
    )

    const take = takeFrom(queue, (size) => {
      buffered -= size
      if (paused && buffered < lowWater) {
        paused = false
        ws.resume()
      }
    })

    const send = (data: Uint8Array | string) =>
      Effect.async<void, HeyoError.Connection>((resume) => {
        if (ws.readyState !== WebSocket.OPEN) {
          return resume(Effect.fail(new HeyoError.Connection({ message: `socket closed (calling ${call})` })))
        }
        let waiting = ws.bufferedAmount >= highWater
        ws.send(data, (error) => {
          if (!waiting) return
          waiting = false
          resume(error === undefined || error === null
            ? Effect.void
            : Effect.fail(new HeyoError.Connection({ message: `network error (calling ${call}): ${describeCause(error)}`, cause: error })))
        })
        if (!waiting) resume(Effect.void)
      })

    return {
      messages: Stream.repeatEffectOption(take),
      send,
      closeCode: Effect.sync(() => Option.fromNullable(closeCode))
    } satisfies Connection
  })

/**
 * The same connection over a user-supplied standard WebSocket class (HeyoClient `webSocket`).
 * Sends still wait while the socket buffers past the high-water mark; reads cannot be paused.
 */
export const connectStandard = (config: ConnectorConfig, Constructor: WebSocketConstructor, options: ConnectOptions) =>
  Effect.gen(function*() {
    const call = `WSS ${options.path}`
    const highWater = config.highWaterBytes ?? defaultHighWater
    const queue = yield* Effect.acquireRelease(Queue.unbounded<Item>(), Queue.shutdown)
    let closeCode: number | undefined
    const ws = yield* Effect.acquireRelease(
      Effect.async<StandardWebSocket, HeyoError.HttpError>((resume) => {
        let settled = false
        const settle = (effect: Effect.Effect<StandardWebSocket, HeyoError.HttpError>) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          resume(effect)
        }
        const headers: Record<string, string> = {}
        if (Option.isSome(config.apiKey)) headers["authorization"] = `Bearer ${Redacted.value(config.apiKey.value)}`
        let ws: StandardWebSocket
        try {
          ws = new Constructor(urlOf(config.baseUrl, options), { headers })
        } catch (error) {
          settle(Effect.fail(new HeyoError.Connection({ message: `cannot connect (calling ${call}): ${describeCause(error)}`, cause: error })))
          return
        }
        const timer = setTimeout(() => {
          ws.close()
          settle(Effect.fail(new HeyoError.Timeout({ message: `no upgrade within ${Duration.format(config.timeout)} (calling ${call})`, timeout: config.timeout })))
        }, Duration.toMillis(config.timeout))
        ws.binaryType = "arraybuffer"
        ws.addEventListener("open", () => settle(Effect.succeed(ws)))
        ws.addEventListener("message", (event: { data: unknown }) => {
          const data = typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer)
          Queue.unsafeOffer(queue, { _tag: "Message", data, size: typeof data === "string" ? data.length : data.byteLength })
        })
        ws.addEventListener("error", () => {
          const failure = new HeyoError.Connection({ message: `the WebSocket failed or was refused (calling ${call})` })
          if (!settled) settle(Effect.fail(failure))
          else Queue.unsafeOffer(queue, { _tag: "Failed", error: failure })
        })
        ws.addEventListener("close", (event: { code: number }) => {
          closeCode = event.code
          if (!settled) {
            settle(Effect.fail(new HeyoError.Connection({ message: `the WebSocket closed before opening, code ${event.code} (calling ${call})` })))
          }
          Queue.unsafeOffer(queue, { _tag: "Closed" })
        })
        return Effect.sync(() => ws.close())
      }),
      (ws) => Effect.sync(() => ws.readyState < 2 && ws.close(1000))
    )

    const take = takeFrom(queue)

    // No drain event on a standard WebSocket: poll bufferedAmount while it is past the mark.
    const send = (data: Uint8Array | string) =>
      Effect.gen(function*() {
        if (ws.readyState !== 1) return yield* new HeyoError.Connection({ message: `socket closed (calling ${call})` })
        ws.send(data)
        while (ws.bufferedAmount >= highWater && ws.readyState === 1) yield* Effect.sleep(Duration.millis(5))
      })

    return {
      messages: Stream.repeatEffectOption(take),
      send,
      closeCode: Effect.sync(() => Option.fromNullable(closeCode))
    } satisfies Connection
  })
