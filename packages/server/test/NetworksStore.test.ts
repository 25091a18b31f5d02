import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as NetworksStore from "../src/network/NetworksStore.js"

const tempFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "networks-store-")), "networks.json")

const service = (name: string, ref: string, port: number) =>
  ({ name, kind: "local", ref, port, protocol: "tcp", connectionUrl: null }) as const

describe("NetworksStore", () => {
  it("creates the default network once and keeps everything across a reopen", () => {
    const file = tempFile()
    const store = NetworksStore.open(file)
    const first = store.defaultNetwork()
    expect(store.defaultNetwork().id).toBe(first.id)
    store.addMember(first.id, "local", "sb-a", undefined)
    store.register(first.id, service("db", "sb-a", 5432))
    const again = NetworksStore.open(file)
    expect(again.defaultNetwork().id).toBe(first.id)
    expect(again.members(first.id).map((m) => m.ref)).toEqual(["sb-a"])
    expect(again.services(first.id).map((s) => s.name)).toEqual(["db"])
    expect(again.addressFor("db")).toBe(store.addressFor("db"))
  })

  it("members are idempotent on (network, kind, ref); a repeat updates the device name only", () => {
    const store = NetworksStore.open(tempFile())
    const id = store.create("lab", null).id
    const first = store.addMember(id, "local", "sb-a", undefined)
    const second = store.addMember(id, "local", "sb-a", "box")
    expect(store.members(id)).toHaveLength(1)
    expect(second.registeredAt).toBe(first.registeredAt)
    expect(second.deviceName).toBe("box")
    expect([...store.networksOf("sb-a")]).toEqual([id])
    expect(store.networksOf("sb-b").size).toBe(0)
  })

  it("gives each service name one loopback address outside 127.0.0.0/16, kept after removal", () => {
    const store = NetworksStore.open(tempFile())
    const id = store.defaultNetwork().id
    store.register(id, service("db", "sb-a", 5432))
    store.register(id, service("db", "sb-a", 5433))
    store.register(id, service("cache", "sb-b", 6379))
    const db = store.addressFor("db")
    expect(db).toMatch(/^127\.77\.\d+\.\d+$/)
    expect(store.addressFor("cache")).not.toBe(db)
    store.unregister(id, "db", 5432)
    store.register(id, service("db", "sb-c", 5432))
    expect(store.addressFor("db")).toBe(db)
    expect(store.service(id, "db", 5432)?.ref).toBe("sb-c")
  })

  it("a destroyed sandbox leaves its networks and takes its services along", () => {
    const store = NetworksStore.open(tempFile())
    const id = store.defaultNetwork().id
    store.addMember(id, "local", "sb-a", undefined)
    store.addMember(id, "host", "sb-a", undefined)
    store.register(id, service("db", "sb-a", 5432))
    store.removeSandbox("sb-a")
    expect(store.members(id).map((m) => m.kind)).toEqual(["host"])
    expect(store.services(id)).toEqual([])
  })

  it("deleting a network drops its members and services", () => {
    const store = NetworksStore.open(tempFile())
    const id = store.create("lab", "x").id
    store.addMember(id, "local", "sb-a", undefined)
    store.remove(id)
    expect(store.network(id)).toBeUndefined()
    expect(store.members(id)).toEqual([])
  })
})
