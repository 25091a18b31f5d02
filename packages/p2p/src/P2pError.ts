/**
 * Typed failures of the P2P layer.
 */
import * as Schema from "effect/Schema"

/** A `heyo://` ticket that does not hold an iroh EndpointTicket. */
export class InvalidTicket extends Schema.TaggedError<InvalidTicket>()("InvalidTicket", {
  message: Schema.String
}) {}

/** Binding, connecting or opening a stream failed (message: iroh's first line). */
export class P2pError extends Schema.TaggedError<P2pError>()("P2pError", {
  message: Schema.String
}) {}

/** iroh errors carry a multi-line anyhow chain and a backtrace; keep the cause lines only. */
export const describe = (error: unknown): string => {
  const text = error instanceof Error ? error.message : String(error)
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0)
  const stop = lines.findIndex((l) => l.startsWith("Stack backtrace"))
  const kept = (stop === -1 ? lines : lines.slice(0, stop)).filter((l) => l !== "Caused by:")
  return kept.map((l) => l.replace(/\s*\(\/[^)]*\)$/, "")).join(": ").slice(0, 500)
}
