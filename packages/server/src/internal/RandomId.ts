/**
 * Ids as heyod hands them out: a kind prefix (`sb-`, `db-`, `hd-`, ...) and 8 random base-36
 * characters, lower case so they are safe in hostnames and paths.
 */
import * as crypto from "node:crypto"

const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"

export const randomId = (prefix: string): string => {
  let id = prefix
  for (const b of crypto.randomBytes(8)) id += alphabet[b % alphabet.length]
  return id
}
