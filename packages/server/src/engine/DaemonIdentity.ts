/**
 * heyod as a Heyo daemon (reference/heyo-api.md §2.8, `/me/daemons`): a stable `hd-` id created
 * on first start and kept in `<data dir>/daemon.json`, the host's name, and when it was created.
 * One heyod is one daemon, so `/me/daemons` lists exactly this one.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { randomId } from "../internal/RandomId.js"
import { ServerConfig } from "../ServerConfig.js"
import { HostFailure } from "./EngineError.js"

export class Identity extends Schema.Class<Identity>("Identity")({
  id: Schema.String.pipe(Schema.pattern(/^hd-[a-z0-9]+$/)),
  createdAt: Schema.String
}) {}

export interface Service {
  readonly id: string
  readonly name: string
  readonly createdAt: string
}

export class DaemonIdentity extends Context.Tag("@heyo-effect/server/DaemonIdentity")<DaemonIdentity, Service>() {}

const decode = Schema.decodeUnknownOption(Schema.parseJson(Identity))

export const layer: Layer.Layer<DaemonIdentity, HostFailure, ServerConfig> = Layer.effect(
  DaemonIdentity,
  Effect.gen(function*() {
    const { dataDir } = yield* ServerConfig
    const file = path.join(dataDir, "daemon.json")
    const identity = yield* Effect.try({
      try: () => {
        const existing = fs.existsSync(file) ? decode(fs.readFileSync(file, "utf8")) : undefined
        if (existing !== undefined && existing._tag === "Some") return existing.value
        // a missing or unreadable file: a new identity (the old one named nothing that still works)
        const fresh = new Identity({ id: randomId("hd-"), createdAt: new Date().toISOString() })
        fs.writeFileSync(`${file}.tmp`, JSON.stringify(fresh))
        fs.renameSync(`${file}.tmp`, file)
        return fresh
      },
      catch: (error) => new HostFailure({ message: `reading ${file}: ${error instanceof Error ? error.message : String(error)}` })
    })
    return { id: identity.id, createdAt: identity.createdAt, name: os.hostname() }
  })
)
