/**
 * heyod's options. Every timer a test could wait on is an option with a documented default.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import type * as Redacted from "effect/Redacted"

export interface Options {
  /** TCP port on 127.0.0.1; 0 picks a free one. Default 34099. */
  readonly port: number
  /** State directory (SQLite, images, sandboxes). Default `.heyo/` under the current directory. */
  readonly dataDir: string
  /** When set, every route except `/health` needs `Authorization: Bearer <key>`. */
  readonly apiKey: Redacted.Redacted<string> | undefined
  /** `auto` uses a btrfs loop image when btrfs-progs is installed, else a plain directory. */
  readonly storage: "auto" | "btrfs" | "dir"
  /** How often expired TTLs are swept. Default 5 s. */
  readonly ttlSweepInterval: Duration.Duration
  /** Longest a `POST /sandbox/:id/exec` command may run before it is killed. Default 10 min. */
  readonly execTimeout: Duration.Duration
  /** Longest one setup hook may run. Default 10 min. */
  readonly setupHookTimeout: Duration.Duration
  /** Largest accepted JSON request body. Default 1 MiB (the cloud's limit), then 413. */
  readonly maxBodyBytes: number
  /** Longest one database request (an `exec` batch, a Hrana pipeline) may run; then its SQL worker is killed. Default 10 s. */
  readonly sqlStatementTimeout: Duration.Duration
  /** How long an idle Hrana stream (a libsql baton) lives; its open transaction is then rolled back. Default 30 s. */
  readonly hranaIdleTimeout: Duration.Duration
  /** Output each exec session or shell keeps for re-attaching. Default 1 MiB. */
  readonly scrollbackBytes: number
  /** How long a non-TTY exec runs on after its last client left (`max_run_after_disconnect`'s default). Default 10 s. */
  readonly execLinger: Duration.Duration
  /** How long a disconnected Heyo shell waits for its client to come back. Default 60 s. */
  readonly shellGrace: Duration.Duration
  /** How long an exited session stays listed and attachable (its scrollback, its exit code). Default 5 min. */
  readonly sessionRetention: Duration.Duration
  /** Between SIGTERM and SIGKILL when a session is ended for its client (linger or grace over). Default 5 s. */
  readonly killGrace: Duration.Duration
  /** Egress of new sandboxes with no policy given at create: `allow` (open, as on Sprites) or `deny` (`*` denied). Default `allow`. */
  readonly egressDefault: "allow" | "deny"
  /**
   * Test option: the egress proxy's whole resolver, name -> IP address. Names not in it fail
   * without any DNS query; addresses from it are exempt from the loopback/private refusal (IP
   * literals in requests are not). Default unset: the host's resolver.
   */
  readonly egressTestHosts: Readonly<Record<string, string>> | undefined
  /**
   * P2P tunnels (iroh, hey-proxy): `loopback` (the default: no relay, no discovery, bound to
   * 127.0.0.1, so only peers on this machine connect), `production` (reachable from anywhere:
   * the n0 preset's public relays and discovery, or only `irohRelayUrl` when set) or `off` (no
   * iroh endpoint at all; tunnel routes answer `heyo+ws://` tickets).
   */
  readonly p2p: "loopback" | "production" | "off"
  /** `production` only: this relay (as `HEYO_IROH_RELAY_URL` in the Heyo SDKs) instead of the n0 preset's. */
  readonly irohRelayUrl: string | undefined
}

export const defaults = {
  port: 34099,
  dataDir: ".heyo",
  apiKey: undefined,
  storage: "auto",
  ttlSweepInterval: Duration.seconds(5),
  execTimeout: Duration.minutes(10),
  setupHookTimeout: Duration.minutes(10),
  maxBodyBytes: 1024 * 1024,
  sqlStatementTimeout: Duration.seconds(10),
  hranaIdleTimeout: Duration.seconds(30),
  scrollbackBytes: 1024 * 1024,
  execLinger: Duration.seconds(10),
  shellGrace: Duration.seconds(60),
  sessionRetention: Duration.minutes(5),
  killGrace: Duration.seconds(5),
  egressDefault: "allow",
  egressTestHosts: undefined,
  p2p: "loopback",
  irohRelayUrl: undefined
} satisfies Options

export class ServerConfig extends Context.Tag("@heyo-effect/server/ServerConfig")<ServerConfig, Options>() {}
