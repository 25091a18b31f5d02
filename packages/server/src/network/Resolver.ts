/**
 * How the egress proxy turns a requested name into the one address it connects to.
 *
 * - System (the default): the host's resolver (`getaddrinfo`), first address.
 * - Test hosts (heyod option `egressTestHosts`, flag `--egress-test-hosts name=addr,...`): the
 *   map is the whole resolver. A name not in it fails with "not found" and nothing is asked of
 *   any DNS server or hosts file. Addresses that come out of the map are exempt from the
 *   loopback/private refusal (that is the point: tests map names to loopback servers); an IP
 *   literal in a request is never looked up, so it is not exempt and `http://127.0.0.1:<port>`
 *   is still refused. The exemption covers every port of a mapped address.
 */
import * as dns from "node:dns"
import * as net from "node:net"

export interface Resolved {
  readonly address: string
  /** Came from the test hosts map: connect even to loopback. */
  readonly exempt: boolean
}

export type Resolver = (host: string) => Promise<Resolved>

export const system: Resolver = async (host) => {
  const results = await dns.promises.lookup(host, { all: true, verbatim: true })
  const first = results[0]
  if (first === undefined) throw new Error(`${host}: no address`)
  return { address: first.address, exempt: false }
}

export const fromMap = (hosts: Readonly<Record<string, string>>): Resolver => {
  const map = new Map(Object.entries(hosts).map(([name, address]) => [name.toLowerCase(), address]))
  return async (host) => {
    const address = map.get(host.toLowerCase())
    if (address === undefined) throw new Error(`${host}: not found (test hosts map)`)
    return { address, exempt: true }
  }
}

/** Parses `name=addr,name=addr` (the command-line form); undefined with the reason when invalid. */
export const parseHosts = (text: string): Record<string, string> | string => {
  const hosts: Record<string, string> = {}
  for (const entry of text.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const [name, address, ...rest] = entry.split("=")
    if (name === undefined || address === undefined || rest.length > 0 || name === "" || net.isIP(address) === 0) {
      return `"${entry}" is not name=ip-address`
    }
    hosts[name.toLowerCase()] = address
  }
  return hosts
}
