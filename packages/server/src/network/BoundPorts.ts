/**
 * Bound ports (Heyo `bind_port`, `open_ports`): which sandbox ports heyod serves at
 * `http://<subdomain>.localhost:<heyod port>/`, and whether anonymously. Kept in a JSON file so
 * they survive restarts; gone with their sandbox. The subdomain is `<sandbox id>-<port>`: stable,
 * a valid DNS label, and telling nothing the id does not.
 */
import * as fs from "node:fs"

export interface Binding {
  readonly sandboxId: string
  readonly port: number
  readonly subdomain: string
  readonly isPublic: boolean
}

export const subdomainOf = (sandboxId: string, port: number) => `${sandboxId}-${port}`.toLowerCase()

export const open = (file: string) => {
  let bindings: Array<Binding> = []
  try {
    bindings = JSON.parse(fs.readFileSync(file, "utf8")) as Array<Binding>
  } catch {
    bindings = []
  }
  const save = () => {
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(bindings), { mode: 0o600 })
    fs.renameSync(`${file}.tmp`, file)
  }
  return {
    /** Binds (or rebinds with a new visibility) a port; the subdomain never changes. */
    bind: (sandboxId: string, port: number, isPublic: boolean): Binding => {
      const binding: Binding = { sandboxId, port, subdomain: subdomainOf(sandboxId, port), isPublic }
      const index = bindings.findIndex((b) => b.sandboxId === sandboxId && b.port === port)
      if (index >= 0 && bindings[index]!.isPublic === isPublic) return bindings[index]!
      if (index >= 0) bindings[index] = binding
      else bindings.push(binding)
      save()
      return binding
    },
    of: (sandboxId: string): ReadonlyArray<Binding> =>
      bindings.filter((b) => b.sandboxId === sandboxId).sort((a, b) => a.port - b.port),
    bySubdomain: (subdomain: string): Binding | undefined => bindings.find((b) => b.subdomain === subdomain.toLowerCase()),
    removeSandbox: (sandboxId: string) => {
      const before = bindings.length
      bindings = bindings.filter((b) => b.sandboxId !== sandboxId)
      if (bindings.length !== before) save()
    }
  }
}
