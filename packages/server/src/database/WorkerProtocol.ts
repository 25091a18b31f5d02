/**
 * Messages between heyod and a database's SQL worker process (SqlWorker.ts), sent over the
 * Node IPC channel with `advanced` serialization (so `bigint` and `Uint8Array` cross intact).
 * Values are the SqlValue model: integers `bigint`, floats `number`, blobs as base64 text.
 */
import type { SqlJson } from "@heyo-effect/protocol"

export type SqlValue = SqlJson.SqlValue

export interface ExecStatement {
  readonly sql: string
  readonly args: ReadonlyArray<SqlValue>
}

export interface StatementOutcome {
  readonly columns: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<SqlValue>>
  readonly rowsAffected: bigint
  readonly lastInsertRowid: bigint | null
  readonly truncated: boolean
}

export type Request =
  | {
    readonly op: "exec"
    readonly id: number
    readonly statements: ReadonlyArray<ExecStatement>
    readonly transaction: "deferred" | "immediate" | "exclusive" | undefined
    readonly maxRows: number
  }
  | {
    /** Hrana stream requests (JSON shapes of the Hrana 3 spec), run in order on one connection. */
    readonly op: "stream"
    readonly id: number
    readonly stream: number
    readonly readOnly: boolean
    readonly requests: ReadonlyArray<unknown>
  }
  | { readonly op: "closeStream"; readonly id: number; readonly stream: number }
  /** The whole database, WAL frames included, as one SQLite file image. */
  | { readonly op: "checkout"; readonly id: number }
  /** Checks that `path` holds a sound SQLite database, without touching the live one. */
  | { readonly op: "validate"; readonly id: number; readonly path: string }
  /** Swaps the live file for `path` (already validated); connections reopen on the new file. */
  | { readonly op: "replace"; readonly id: number; readonly path: string }

export type Response =
  | { readonly id: number; readonly ok: true; readonly value: unknown; readonly changed: boolean }
  | {
    readonly id: number
    readonly ok: false
    readonly error: { readonly message: string; readonly code: string; readonly statement?: number | undefined }
    readonly changed: boolean
  }

export interface ExecValue {
  readonly results: ReadonlyArray<StatementOutcome>
}

export interface StreamValue {
  /** Hrana `StreamResult`s, already in their JSON shape. */
  readonly results: ReadonlyArray<unknown>
  readonly autocommit: boolean
  /** A `close` request ended the stream. */
  readonly closed: boolean
}
