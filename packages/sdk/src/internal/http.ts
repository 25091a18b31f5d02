/** Turning HTTP outcomes into HeyoErrors (reference/heyo-api.md §6). */
import { HeyoError as WireError } from "@heyo-effect/protocol"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as HeyoError from "../HeyoError.js"

/**
 * A path whose interpolated values are percent-encoded, so an id can never smuggle in a `/`
 * or a `?`: path`/sandbox/${id}/exec`.
 */
export const path = (strings: TemplateStringsArray, ...values: ReadonlyArray<string | number>): string =>
  strings.reduce((out, s, i) => out + s + (i < values.length ? encodeURIComponent(String(values[i])) : ""), "")

const reasons: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  410: "Gone",
  413: "Payload Too Large",
  422: "Unprocessable Entity",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout"
}

const nonEmpty = (s: string | undefined): string | undefined => s !== undefined && s.trim() !== "" ? s.trim() : undefined
const decodeErrorBody = Schema.decodeUnknownOption(WireError.ErrorBodyTolerant)

/** `body.message` || `body.error` || raw text || "<status> <reason>", as every Heyo SDK reads it. */
export const errorMessage = (status: number, text: string, json: unknown): string => {
  const body = Option.getOrUndefined(decodeErrorBody(json))
  return nonEmpty(body?.message) ?? nonEmpty(body?.error) ?? nonEmpty(text) ??
    `${status} ${reasons[status] ?? "HTTP error"}`
}

export const parseJson = (text: string): Option.Option<unknown> => {
  try {
    return Option.some(JSON.parse(text))
  } catch {
    return Option.none()
  }
}

/** `Retry-After` is either delta-seconds or an HTTP date. */
export const parseRetryAfter = (header: string | undefined, nowMillis: number): Option.Option<Duration.Duration> => {
  if (header === undefined || header.trim() === "") return Option.none()
  const trimmed = header.trim()
  if (/^\d+$/.test(trimmed)) return Option.some(Duration.seconds(Number(trimmed)))
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? Option.none() : Option.some(Duration.millis(Math.max(0, date - nowMillis)))
}

/** The error for a non-2xx response; `call` is "METHOD /path", appended to every message. */
export const statusError = (
  call: string,
  status: number,
  text: string,
  headers: Readonly<Record<string, string | undefined>>
): Effect.Effect<HeyoError.HttpError> =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    const json = parseJson(text)
    const message = `${errorMessage(status, text, Option.getOrUndefined(json))} (calling ${call})`
    switch (status) {
      case 401:
      case 403:
        return new HeyoError.Authentication({ status, message })
      case 400:
      case 422:
        return new HeyoError.InvalidArgument({ status, message })
      case 404:
        return new HeyoError.NotFound({ message })
      case 429:
        return new HeyoError.RateLimited({ message, retryAfter: parseRetryAfter(headers["retry-after"], now) })
      default:
        return new HeyoError.Api({ status, message, body: Option.getOrUndefined(json) })
    }
  })

/** "connect ECONNREFUSED 127.0.0.1:1: fetch failed": the whole cause chain, innermost last. */
export const describeCause = (cause: unknown): string => {
  const parts: Array<string> = []
  let current: unknown = cause
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const message = current instanceof Error ? current.message : String(current)
    if (message !== "" && !parts.includes(message)) parts.push(message)
    current = current instanceof Error ? current.cause : undefined
  }
  return parts.join(": ") || "unknown transport error"
}

/** Retry is only for what a repeat cannot make worse: no answer at all, or a 503 (capacity). */
export const isTransient = (error: HeyoError.HttpError): boolean =>
  error._tag === "Connection" || (error._tag === "Api" && error.status === 503)

// "openPorts.0: Expected a number between 1 and 65535, actual 0". An optional field also reports
// "Expected undefined", which only restates that the value was given.
export const describeIssues = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
  const useful = issues.filter((i) => !i.message.startsWith("Expected undefined"))
  return (useful.length > 0 ? useful : issues)
    .map((i) => i.path.length === 0 ? i.message : `${i.path.join(".")}: ${i.message}`)
    .join("; ")
}
