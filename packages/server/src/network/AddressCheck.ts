/**
 * Addresses the egress proxy never connects to, whatever the policy says: loopback (heyod and
 * every host service), private and shared ranges (the host's LAN, other machines' services),
 * link-local (including cloud metadata at 169.254.169.254 and fd00:ec2::254), and the
 * unspecified, multicast and reserved blocks. IPv4-mapped IPv6 is checked as the IPv4 it carries.
 */
import * as net from "node:net"

const refused = new net.BlockList()
for (const [address, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4]
] as const) refused.addSubnet(address, prefix, "ipv4")
for (const [address, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["64:ff9b::", 96],
  ["100::", 64],
  ["2001:db8::", 32],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8]
] as const) refused.addSubnet(address, prefix, "ipv6")

const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i

/** Why `address` is refused, or undefined when it may be connected to. */
export const refusal = (address: string): string | undefined => {
  const v4 = mapped.exec(address)?.[1] ?? address
  const family = net.isIP(v4)
  if (family === 0) return `${address} is not an IP address`
  return refused.check(v4, family === 4 ? "ipv4" : "ipv6")
    ? `${address} is in a loopback, private, link-local or reserved range`
    : undefined
}
