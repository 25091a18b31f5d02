/**
 * heyod's extensions beyond the Heyo cloud routes, advertised in `GET /capabilities` `features`.
 * SDKs read this list once per client and fail with a typed `Unsupported` error when a call needs
 * an extension the server lacks. Each capability issue adds its names here.
 */
export const features: ReadonlyArray<string> = [
  /** Sprites exec (WebSocket and HTTP, TTY or not), sessions, attach and kill, by sandbox id or name. */
  "exec-stream",
  /** `offset` in `session_info`, `?offset=N` on attach, and the `output_lost` text frame. */
  "exec-offsets",
  /** `WSS /deployed-sandboxes/{id}/shell-stream` with resumable sessions. */
  "shell-stream",
  /** `/v1/sprites/{name}/checkpoint(s)`: checkpoints by id, addressed by sandbox id or name. */
  "checkpoints",
  /** `/sandbox-archives/*` with uploads to heyod itself, `archive_id` at deploy, `replace-mount`. */
  "archives",
  /** `/v1/sprites/{name}/fs/...`: streamed reads and writes, list, delete, rename, copy, chmod, chown, watch. */
  "fs",
  /** `/v1/sprites/{name}/policy/network`, the egress proxy, and `network_policy` in the create body. */
  "network-policy",
  /** `WSS /v1/sprites/{name}/proxy`, `POST /sandboxes/:id/tcp-tunnel` (`heyo://` or `heyo+ws://` tickets), their revocation. */
  "tunnels",
  /** `/me/daemons`: heyod as the one daemon, its sandboxes. */
  "daemons",
  /** `WSS /v1/sprites/{name}/ports/watch`: `port_list`, then `port_opened` / `port_closed`. */
  "ports-watch",
  /** `heyo://` iroh tickets (hey-proxy) for tunnels, services and heyod's own API; absent with `--p2p off`. */
  "p2p"
]

/** The feature `--p2p off` takes away. */
export const p2pFeature = "p2p"
