/**
 * @heyo-effect/p2p: iroh (@number0/iroh) for heyo-effect, hey-proxy compatible.
 */
export * as BiStream from "./BiStream.js"
export * as P2pEndpoint from "./P2pEndpoint.js"
export * from "./P2pError.js"
export * as Ticket from "./Ticket.js"

/** Heyo's TCP proxy protocol: one bi stream per TCP connection, raw bytes (heyo-api.md §5). */
export const HEY_PROXY_ALPN = "hey-proxy/tcp/0"
