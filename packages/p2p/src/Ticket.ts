/**
 * Heyo P2P tickets (reference/heyo-api.md §5): `heyo://<payload>`, where the payload is
 * - a full iroh EndpointTicket (64 characters or more), used as is;
 * - `host:port/short-code`: the ticket broker at `http://host:port` resolves the code
 *   (`GET /api/lookup/<code>` -> `{"ticket": "<full>"}`);
 * - a bare short code (under 64 characters): resolved by the broker given as `relay`.
 */
import * as Effect from "effect/Effect"
import * as Iroh from "./Iroh.js"
import { describe, InvalidTicket, P2pError } from "./P2pError.js"

export const scheme = "heyo://"

export const isP2pTicket = (ticket: string): boolean => ticket.startsWith(scheme)

export const format = (endpointTicket: string): string => `${scheme}${endpointTicket}`

const fullLength = 64

const payloadOf = (ticket: string) =>
  isP2pTicket(ticket)
    ? Effect.succeed(ticket.slice(scheme.length).trim())
    : Effect.fail(new InvalidTicket({ message: `not a heyo:// ticket: ${ticket.slice(0, 40)}` }))

/** The iroh EndpointAddr of a full ticket, validated by iroh's own parser. */
export const parse = (ticket: string) =>
  Effect.gen(function*() {
    const payload = yield* payloadOf(ticket)
    if (payload.length < fullLength) {
      return yield* new InvalidTicket({
        message: `heyo://${payload.slice(0, 20)} is a short code: resolve it with its ticket broker first`
      })
    }
    return yield* Effect.try({
      try: () => Iroh.load().EndpointTicket.fromString(payload).endpointAddr(),
      catch: () => new InvalidTicket({ message: `heyo:// ticket does not hold an iroh EndpointTicket: ${payload.slice(0, 40)}` })
    })
  })

const lookup = (broker: string, code: string, timeoutMs: number) =>
  Effect.gen(function*() {
    const url = `${broker.replace(/\/+$/, "")}/api/lookup/${encodeURIComponent(code)}`
    const fail = (message: string) => new P2pError({ message: `resolving heyo://${code} at ${url}: ${message}` })
    const response = yield* Effect.tryPromise({
      try: (signal) => fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) }),
      catch: (error) => fail(describe(error))
    })
    const text = yield* Effect.tryPromise({ try: () => response.text(), catch: (error) => fail(describe(error)) })
    if (response.status === 404) return yield* new InvalidTicket({ message: `heyo://${code}: the broker at ${broker} knows no such code` })
    if (!response.ok) return yield* fail(`${response.status} ${text.slice(0, 200)}`)
    const body = yield* Effect.try({ try: () => JSON.parse(text) as unknown, catch: () => fail(`not JSON: ${text.slice(0, 100)}`) })
    const resolved = typeof body === "object" && body !== null && "ticket" in body ? body.ticket : undefined
    if (typeof resolved !== "string") return yield* fail(`no "ticket" in ${text.slice(0, 100)}`)
    const full = isP2pTicket(resolved) ? resolved : format(resolved)
    // the answer must itself be a full ticket: a broker never sends another code
    yield* parse(full)
    return full
  })

/**
 * The full `heyo://` ticket for any of the three forms: a full one as is, a short code through
 * its broker (`relay` for bare codes, as Heyo's `P2pTunnel::connect(ticket, relay)`).
 */
export const resolve = (ticket: string, options?: { readonly relay?: string | undefined; readonly timeoutMs?: number | undefined }) =>
  Effect.gen(function*() {
    const payload = yield* payloadOf(ticket)
    if (payload.length >= fullLength) return format(payload)
    const timeoutMs = options?.timeoutMs ?? 10_000
    const slash = payload.indexOf("/")
    if (slash > 0) {
      const host = payload.slice(0, slash)
      const code = payload.slice(slash + 1)
      if (code === "" || code.includes("/") || !URL.canParse(`http://${host}`)) {
        return yield* new InvalidTicket({ message: `heyo://${payload}: expected host:port/short-code` })
      }
      return yield* lookup(`http://${host}`, code, timeoutMs)
    }
    if (options?.relay === undefined) {
      return yield* new InvalidTicket({
        message: `heyo://${payload} is a short code: pass the ticket broker's URL as relay to resolve it`
      })
    }
    if (!URL.canParse(options.relay)) return yield* new InvalidTicket({ message: `relay: "${options.relay}" is not a URL` })
    return yield* lookup(options.relay, payload, timeoutMs)
  })
