/**
 * A fake Heyo server behind `HttpClient.make`: every request is recorded, a handler answers it.
 * Build one per test (its request log is state).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Commands from "../../src/Commands.js"
import * as Files from "../../src/Files.js"
import * as HeyoClient from "../../src/HeyoClient.js"
import * as Sandbox from "../../src/Sandbox.js"

export interface Recorded {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: Readonly<Record<string, string>>
  readonly body: unknown
}

export type Reply =
  | { readonly status?: number; readonly json?: unknown; readonly text?: string; readonly headers?: Record<string, string> }
  | "transport-error"
  | "hang"

export type Handler = (request: Recorded) => Reply | Effect.Effect<Reply>

export const info = (id: string, status: string, extra: Record<string, unknown> = {}) => ({
  id,
  name: id,
  status,
  image: "ubuntu:24.04",
  status_changed_at: "2026-01-01T00:00:00Z",
  urls: null,
  ...extra
})

export const mockHttp = (handler: Handler) => {
  const requests: Array<Recorded> = []
  const client = HttpClient.make((request, url) =>
    Effect.gen(function*() {
      const body = request.body._tag === "Uint8Array"
        ? JSON.parse(new TextDecoder().decode(request.body.body))
        : undefined
      const recorded: Recorded = {
        method: request.method,
        path: url.pathname,
        query: url.searchParams,
        headers: request.headers,
        body
      }
      requests.push(recorded)
      const answer = handler(recorded)
      const reply = Effect.isEffect(answer) ? yield* answer : answer
      if (reply === "hang") return yield* Effect.never
      if (reply === "transport-error") {
        return yield* new HttpClientError.RequestError({
          request,
          reason: "Transport",
          cause: new Error("connect ECONNREFUSED 127.0.0.1:1")
        })
      }
      const status = reply.status ?? 200
      const text = reply.text ?? (reply.json === undefined ? null : JSON.stringify(reply.json))
      return HttpClientResponse.fromWeb(request, new Response(status === 204 ? null : text, { status, headers: reply.headers ?? {} }))
    })
  )
  return { requests, layer: Layer.succeed(HttpClient.HttpClient, client) }
}

export const BASE_URL = "https://api.test/"
export const KEY = "heyo_api_secret"

/** Sandbox + Commands + Files + HeyoClient over a fake server. */
export const sdk = (handler: Handler, options: Partial<HeyoClient.Options> = {}) => {
  const http = mockHttp(handler)
  const layer = Sandbox.layer.pipe(
    Layer.provideMerge(HeyoClient.layer({ baseUrl: BASE_URL, apiKey: Redacted.make(KEY), ...options })),
    Layer.provide(http.layer)
  )
  return { requests: http.requests, layer }
}

export type Sdk = Sandbox.Sandbox | Commands.Commands | Files.Files | HeyoClient.HeyoClient
