/**
 * The private networks registry (reference/heyo-api.md §2.7): networks, members and services,
 * kept in one JSON file under `<data dir>/network/` (small, rewritten whole, atomically), plus the
 * loopback address each service name resolves to inside member sandboxes. An address, once
 * given to a name, stays with it: a sandbox's /etc/hosts never needs an entry changed, only added.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"

export interface NetworkRow {
  readonly id: string
  name: string
  readonly isDefault: boolean
  description: string | null
  readonly createdAt: string
  updatedAt: string
}

export interface MemberRow {
  readonly networkId: string
  readonly kind: string
  readonly ref: string
  deviceName: string | null
  readonly registeredAt: string
}

export interface ServiceRow {
  readonly id: string
  readonly networkId: string
  readonly name: string
  kind: string
  ref: string
  readonly port: number
  protocol: string
  connectionUrl: string | null
  readonly registeredAt: string
}

interface Data {
  networks: Array<NetworkRow>
  members: Array<MemberRow>
  services: Array<ServiceRow>
  /** service name -> its address in 127.77.0.0/16 */
  addresses: Record<string, string>
}

/** Service addresses: 127.77.0.1 and up, clear of 127.0.0.1 and the hostname's 127.0.1.1. */
const addressOf = (index: number) => `127.77.${Math.floor(index / 254)}.${(index % 254) + 1}`

export const open = (file: string) => {
  let data: Data = { networks: [], members: [], services: [], addresses: {} }
  try {
    data = { ...data, ...(JSON.parse(fs.readFileSync(file, "utf8")) as Partial<Data>) }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error
  }
  const save = () => {
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(data), { mode: 0o600 })
    fs.renameSync(`${file}.tmp`, file)
  }
  const now = () => new Date().toISOString()
  const newId = (prefix: string) => `${prefix}-${crypto.randomBytes(8).toString("hex")}`

  return {
    networks: (): ReadonlyArray<NetworkRow> => data.networks,
    network: (id: string) => data.networks.find((n) => n.id === id),
    defaultNetwork: (): NetworkRow => {
      const existing = data.networks.find((n) => n.isDefault)
      if (existing !== undefined) return existing
      const at = now()
      const row: NetworkRow = { id: newId("net"), name: "default", isDefault: true, description: null, createdAt: at, updatedAt: at }
      data.networks.push(row)
      save()
      return row
    },
    create: (name: string, description: string | null): NetworkRow => {
      const at = now()
      const row: NetworkRow = { id: newId("net"), name, isDefault: false, description, createdAt: at, updatedAt: at }
      data.networks.push(row)
      save()
      return row
    },
    update: (row: NetworkRow, patch: { readonly name?: string | undefined; readonly description?: string | null | undefined }) => {
      if (patch.name !== undefined) row.name = patch.name
      if (patch.description !== undefined) row.description = patch.description
      row.updatedAt = now()
      save()
      return row
    },
    remove: (id: string) => {
      data.networks = data.networks.filter((n) => n.id !== id)
      data.members = data.members.filter((m) => m.networkId !== id)
      data.services = data.services.filter((s) => s.networkId !== id)
      save()
    },
    members: (networkId: string) => data.members.filter((m) => m.networkId === networkId),
    addMember: (networkId: string, kind: string, ref: string, deviceName: string | null | undefined): MemberRow => {
      const existing = data.members.find((m) => m.networkId === networkId && m.kind === kind && m.ref === ref)
      if (existing !== undefined) {
        if (deviceName !== undefined) existing.deviceName = deviceName
        save()
        return existing
      }
      const row: MemberRow = { networkId, kind, ref, deviceName: deviceName ?? null, registeredAt: now() }
      data.members.push(row)
      save()
      return row
    },
    removeMember: (networkId: string, kind: string, ref: string) => {
      const before = data.members.length
      data.members = data.members.filter((m) => !(m.networkId === networkId && m.kind === kind && m.ref === ref))
      if (data.members.length !== before) save()
    },
    /** The networks a sandbox of heyod belongs to (kinds `local` and `deployed` name its id). */
    networksOf: (sandboxId: string) =>
      new Set(data.members.filter((m) => (m.kind === "local" || m.kind === "deployed") && m.ref === sandboxId).map((m) => m.networkId)),
    services: (networkId: string) => data.services.filter((s) => s.networkId === networkId),
    service: (networkId: string, name: string, port: number) =>
      data.services.find((s) => s.networkId === networkId && s.name === name && s.port === port),
    /** Registers (or re-registers, replacing the target) a service; gives its name an address. */
    register: (networkId: string, spec: Omit<ServiceRow, "id" | "networkId" | "registeredAt">): ServiceRow => {
      if (data.addresses[spec.name] === undefined) {
        const used = Object.keys(data.addresses).length
        if (used >= 254 * 256) throw new Error("no service address left")
        data.addresses[spec.name] = addressOf(used)
      }
      const existing = data.services.find((s) => s.networkId === networkId && s.name === spec.name && s.port === spec.port)
      if (existing !== undefined) {
        existing.kind = spec.kind
        existing.ref = spec.ref
        existing.protocol = spec.protocol
        existing.connectionUrl = spec.connectionUrl
        save()
        return existing
      }
      const row: ServiceRow = { ...spec, id: newId("svc"), networkId, registeredAt: now() }
      data.services.push(row)
      save()
      return row
    },
    unregister: (networkId: string, name: string, port: number) => {
      const before = data.services.length
      data.services = data.services.filter((s) => !(s.networkId === networkId && s.name === name && s.port === port))
      if (data.services.length !== before) save()
    },
    addressFor: (name: string): string | undefined => data.addresses[name],
    /** Drops a destroyed sandbox's memberships and the services it offered. */
    removeSandbox: (sandboxId: string) => {
      const mine = (kind: string, ref: string) => (kind === "local" || kind === "deployed") && ref === sandboxId
      const members = data.members.filter((m) => !mine(m.kind, m.ref))
      const services = data.services.filter((s) => !mine(s.kind, s.ref))
      if (members.length === data.members.length && services.length === data.services.length) return
      data.members = members
      data.services = services
      save()
    }
  }
}

export type Store = ReturnType<typeof open>
