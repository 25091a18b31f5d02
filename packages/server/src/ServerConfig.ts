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
}

export const defaults = {
  port: 34099,
  dataDir: ".heyo",
  apiKey: undefined,
  storage: "auto",
  ttlSweepInterval: Duration.seconds(5),
  execTimeout: Duration.minutes(10),
  setupHookTimeout: Duration.minutes(10),
  maxBodyBytes: 1024 * 1024
} satisfies Options

export class ServerConfig extends Context.Tag("@heyo-effect/server/ServerConfig")<ServerConfig, Options>() {}
