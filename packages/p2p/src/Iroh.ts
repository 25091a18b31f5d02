/**
 * The one place that loads @number0/iroh. Its 1.1.0 `main`/`types` point at a folder the package
 * does not ship, so a bare `require("@number0/iroh")` works only through Node's deprecated
 * main-field fallback (DEP0128 warning); the real entry is `index.js` at the package root.
 * Loading it lazily keeps the native module out of processes that never use P2P.
 */
import { createRequire } from "node:module"

export type Module = typeof import("@number0/iroh/index.js")

let loaded: Module | undefined

export const load = (): Module => {
  if (loaded === undefined) loaded = createRequire(import.meta.url)("@number0/iroh/index.js") as Module
  return loaded
}
