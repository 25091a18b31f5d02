/**
 * The Heyo shell WebSocket, `WSS /deployed-sandboxes/{id}/shell-stream` (reference/heyo-api.md §4):
 * JSON text frames both ways, stdin as `[0x01, ...bytes]`, output as `[0x02, seq u64 BE, ...bytes]`.
 * Unknown or unparsable text frames are ignored by both sides.
 */
import * as Schema from "effect/Schema"

const type = <T extends string>(value: T) =>
  Schema.Literal(value).pipe(Schema.propertySignature, Schema.withConstructorDefault(() => value))

const U16 = Schema.Int.pipe(Schema.between(1, 65535))

/** client -> server, first: a new shell, or a resumed one with `sessionId`. */
export class Init extends Schema.Class<Init>("Init")({
  type: type("init"),
  cols: U16,
  rows: U16,
  env: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String })),
  cwd: Schema.optional(Schema.String),
  sessionId: Schema.optional(Schema.String)
}) {}

export class Resize extends Schema.Class<Resize>("Resize")({
  type: type("resize"),
  cols: U16,
  rows: U16
}) {}

/** The highest output seq received; replay after a reconnect starts past it. */
export class Ack extends Schema.Class<Ack>("Ack")({
  type: type("ack"),
  seq: Schema.NonNegativeInt
}) {}

/** Graceful end: the shell is ended and its exit reported. */
export class Close extends Schema.Class<Close>("Close")({
  type: type("close")
}) {}

export class Ready extends Schema.Class<Ready>("Ready")({
  type: type("ready"),
  sessionId: Schema.String,
  lastSeq: Schema.optional(Schema.NonNegativeInt)
}) {}

export class Exit extends Schema.Class<Exit>("Exit")({
  type: type("exit"),
  code: Schema.Int
}) {}

/** `session_expired` is terminal; other codes are reported and the connection goes on. */
export class ErrorMessage extends Schema.Class<ErrorMessage>("ErrorMessage")({
  type: type("error"),
  code: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String)
}) {}

/** heyod sends one now and then so idle shells stay under the clients' 60 s silence timer. */
export class Keepalive extends Schema.Class<Keepalive>("Keepalive")({
  type: type("keepalive")
}) {}

export const ClientMessage = Schema.Union(Init, Resize, Ack, Close)
export type ClientMessage = typeof ClientMessage.Type
export const ClientMessageFromJson = Schema.parseJson(ClientMessage)

export const ServerMessage = Schema.Union(Ready, Exit, ErrorMessage, Keepalive)
export type ServerMessage = typeof ServerMessage.Type
export const ServerMessageFromJson = Schema.parseJson(ServerMessage)

export const StdinTag = 0x01
export const StdoutTag = 0x02

export const encodeStdin = (data: Uint8Array): Uint8Array => {
  const frame = new Uint8Array(1 + data.byteLength)
  frame[0] = StdinTag
  frame.set(data, 1)
  return frame
}

export const encodeStdout = (seq: number, data: Uint8Array): Uint8Array => {
  const frame = new Uint8Array(9 + data.byteLength)
  frame[0] = StdoutTag
  new DataView(frame.buffer).setBigUint64(1, BigInt(seq))
  frame.set(data, 9)
  return frame
}

/** A stdout frame; anything shorter than 9 bytes or with another tag is none (§4). */
export const decodeStdout = (frame: Uint8Array): { readonly seq: number; readonly data: Uint8Array } | undefined =>
  frame.byteLength < 9 || frame[0] !== StdoutTag
    ? undefined
    : {
      seq: Number(new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getBigUint64(1)),
      data: frame.subarray(9)
    }

export const decodeStdin = (frame: Uint8Array): Uint8Array | undefined =>
  frame.byteLength >= 1 && frame[0] === StdinTag ? frame.subarray(1) : undefined
