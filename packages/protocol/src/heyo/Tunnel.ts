/**
 * `POST /sandboxes/:id/tcp-tunnel` (reference/heyo-api.md §2.5, §5) as heyod serves it: the
 * answer's `connection_url` is by default a `heyo://` iroh ticket (hey-proxy, @heyo-effect/p2p);
 * with `transport: "ws"` in the body, a `heyo+ws://` ticket, never written `heyo://` (Heyo clients
 * read that as an iroh ticket or a short code). A `heyo+ws://` ticket is
 * `heyo+ws://<host:port of heyod>/tunnels/<sandbox id>/<port>?grant=<credential>`: heyod's
 * address, the sandbox, the port and a revocable credential scoped to that port. Each WebSocket
 * to `ws://<host:port>/tunnels/<sandbox id>/<port>?grant=...` is one TCP connection to the port,
 * raw binary frames both ways. heyod's own extension `DELETE /sandboxes/:id/tcp-tunnel/:port`
 * revokes it; the next POST issues a new one.
 */
import * as Schema from "effect/Schema"

export const ticketScheme = "heyo+ws:"

/** How routes that report a transport name this one. */
export const transport = "ws_tcp_proxy"

export class TcpTunnelRequest extends Schema.Class<TcpTunnelRequest>("TcpTunnelRequest")({
  port: Schema.Int.pipe(Schema.between(1, 65535)),
  /**
   * heyod's extension: `"iroh"` (the default) answers a `heyo://` iroh ticket (hey-proxy, issue
   * 6), `"ws"` this module's `heyo+ws://` ticket.
   */
  transport: Schema.optional(Schema.Literal("iroh", "ws"))
}) {}

export class TcpTunnelResponse extends Schema.Class<TcpTunnelResponse>("TcpTunnelResponse")({
  connectionUrl: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("connection_url"))
}) {}

export interface Ticket {
  /** `http://host:port` of heyod. */
  readonly baseUrl: string
  readonly sandboxId: string
  readonly port: number
  readonly grant: string
}

const ticketPattern = /^heyo\+ws:\/\/([^/?#]+)\/tunnels\/([^/?#]+)\/(\d{1,5})\?grant=([A-Za-z0-9_-]+)$/

export const formatTicket = (ticket: Ticket): string =>
  `heyo+ws://${new URL(ticket.baseUrl).host}/tunnels/${encodeURIComponent(ticket.sandboxId)}/${ticket.port}?grant=${ticket.grant}`

/** undefined when `text` is not a heyo+ws ticket. */
export const parseTicket = (text: string): Ticket | undefined => {
  const match = ticketPattern.exec(text.trim())
  if (match === null) return undefined
  const port = Number(match[3])
  if (port < 1 || port > 65535) return undefined
  return { baseUrl: `http://${match[1]}`, sandboxId: decodeURIComponent(match[2]!), port, grant: match[4]! }
}

/** The WebSocket path of a ticket (relative to its base URL). */
export const socketPath = (ticket: Ticket) => `/tunnels/${encodeURIComponent(ticket.sandboxId)}/${ticket.port}`
