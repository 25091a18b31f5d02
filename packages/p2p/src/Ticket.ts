/**
 * Heyo P2P tickets: `heyo://<iroh EndpointTicket>` (reference/heyo-api.md §5). Only the long
 * form is handled; short codes need Heyo's ticket broker, which heyod does not run.
 */
import * as Effect from "effect/Effect"
import * as Iroh from "./Iroh.js"
import { InvalidTicket } from "./P2pError.js"

export const scheme = "heyo://"

export const isP2pTicket = (ticket: string): boolean => ticket.startsWith(scheme)

export const format = (endpointTicket: string): string => `${scheme}${endpointTicket}`

/** The iroh EndpointAddr a ticket names, validated by iroh's own parser. */
export const parse = (ticket: string) =>
  Effect.gen(function*() {
    if (!isP2pTicket(ticket)) {
      return yield* new InvalidTicket({ message: `not a heyo:// ticket: ${ticket.slice(0, 40)}` })
    }
    const payload = ticket.slice(scheme.length)
    if (payload.length < 64) {
      return yield* new InvalidTicket({
        message: `heyo://${payload.slice(0, 20)} is a short code; only full EndpointTickets are supported`
      })
    }
    return yield* Effect.try({
      try: () => Iroh.load().EndpointTicket.fromString(payload).endpointAddr(),
      catch: () => new InvalidTicket({ message: `heyo:// ticket does not hold an iroh EndpointTicket: ${payload.slice(0, 40)}` })
    })
  })
