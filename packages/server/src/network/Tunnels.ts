/**
 * Tunnel grants: the credential inside a `heyo+ws://` ticket (protocol heyo/Tunnel.ts). One per
 * sandbox port, random (128 bits), kept in a JSON file so a ticket survives a heyod restart,
 * stable until revoked, and gone with its sandbox. A grant opens exactly that port of that
 * sandbox and nothing else: it is not an API key.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"

const key = (sandboxId: string, port: number) => `${sandboxId}:${port}`

const digest = (value: string) => crypto.createHash("sha256").update(value).digest()

export const open = (file: string) => {
  let grants: Record<string, string> = {}
  try {
    grants = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>
  } catch {
    grants = {}
  }
  const save = () => {
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(grants), { mode: 0o600 })
    fs.renameSync(`${file}.tmp`, file)
  }
  return {
    grant: (sandboxId: string, port: number): string => {
      const existing = grants[key(sandboxId, port)]
      if (existing !== undefined) return existing
      const fresh = crypto.randomBytes(16).toString("base64url")
      grants[key(sandboxId, port)] = fresh
      save()
      return fresh
    },
    revoke: (sandboxId: string, port: number): boolean => {
      if (grants[key(sandboxId, port)] === undefined) return false
      delete grants[key(sandboxId, port)]
      save()
      return true
    },
    check: (sandboxId: string, port: number, presented: string): boolean => {
      const expected = grants[key(sandboxId, port)]
      return expected !== undefined && crypto.timingSafeEqual(digest(expected), digest(presented))
    },
    removeSandbox: (sandboxId: string) => {
      const before = Object.keys(grants).length
      grants = Object.fromEntries(Object.entries(grants).filter(([k]) => !k.startsWith(`${sandboxId}:`)))
      if (Object.keys(grants).length !== before) save()
    }
  }
}
