/**
 * A session's output: every chunk the command wrote, numbered (`seq`, from 1) and placed (`offset`,
 * the byte position of its first byte in the whole output), with the newest `capacity` bytes held
 * as scrollback.
 *
 * Readers (attached sockets) each have a cursor. Nothing a reader has not been given is ever
 * evicted: while one is behind, `append` waits, which stops heyod reading the command's pipe and
 * so stalls the command. With no reader attached, the oldest chunks make way for new ones and
 * the scrollback keeps the tail. Memory is therefore bounded by `capacity` plus one chunk per
 * stream, whatever the command or the clients do.
 */
import * as Effect from "effect/Effect"

/** Which stream a chunk came from (the Sprites frame ids). */
export type StreamId = 1 | 2

export interface Chunk {
  readonly seq: number
  readonly offset: number
  readonly stream: StreamId
  readonly data: Uint8Array
}

export interface Reader {
  /** The offset of the next byte this reader is given. */
  cursor: number
  /** Set while the reader waits for output. */
  wake: (() => void) | undefined
}

export class OutputLog {
  private chunks: Array<Chunk> = []
  private head = 0
  private held = 0
  private readonly readers = new Set<Reader>()
  private spaceWaiters: Array<() => void> = []
  /** Offset just past the last byte written. */
  end = 0
  private nextSeq = 1
  /** No more output will come (the command exited and its pipes are drained). */
  ended = false

  constructor(readonly capacity: number) {}

  /** Offset of the oldest byte still held. */
  get start(): number {
    return this.head < this.chunks.length ? this.chunks[this.head]!.offset : this.end
  }

  /** The seq of the oldest chunk held; `lastSeq + 1` when none. */
  get firstSeq(): number {
    return this.head < this.chunks.length ? this.chunks[this.head]!.seq : this.nextSeq
  }

  get lastSeq(): number {
    return this.nextSeq - 1
  }

  /** Adds a chunk; waits while the log is full and an attached reader still needs its oldest bytes. */
  append(stream: StreamId, data: Uint8Array): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (data.byteLength === 0 || this.ended) return Effect.void
      this.chunks.push({ seq: this.nextSeq++, offset: this.end, stream, data })
      this.end += data.byteLength
      this.held += data.byteLength
      this.evict()
      this.wakeReaders()
      return this.untilRoom()
    })
  }

  /** Marks the output complete; readers get what is left, then the end. */
  finish(): void {
    this.ended = true
    this.wakeReaders()
    this.wakeWriters()
  }

  /**
   * Attaches a reader at `from` (clamped to what is held). `lost` is how many bytes before the
   * oldest one held were asked for and are gone.
   */
  attach(from: number): { readonly reader: Reader; readonly lost: number } {
    const cursor = Math.min(Math.max(from, this.start), this.end)
    const reader: Reader = { cursor, wake: undefined }
    this.readers.add(reader)
    return { reader, lost: Math.max(0, Math.min(this.start, this.end) - Math.max(from, 0)) }
  }

  /** The offset where chunk `seq` starts, or undefined when it is no longer held. */
  offsetOfSeq(seq: number): number | undefined {
    if (seq >= this.nextSeq) return this.end
    const index = this.head + (seq - this.firstSeq)
    return index >= this.head && index < this.chunks.length ? this.chunks[index]!.offset : undefined
  }

  detach(reader: Reader): void {
    this.readers.delete(reader)
    reader.wake?.()
    this.evict()
    this.wakeWriters()
  }

  /**
   * The chunks from the reader's cursor (the first one cut to start there), at most about
   * `maxBytes` (always at least one chunk), waiting for output when there is none;
   * an empty array once the log has ended and the reader has everything.
   */
  read(reader: Reader, maxBytes: number): Effect.Effect<ReadonlyArray<Chunk>> {
    return Effect.async<ReadonlyArray<Chunk>>((resume) => {
      const attempt = () => {
        if (!this.readers.has(reader)) return resume(Effect.succeed([]))
        if (reader.cursor < this.end) {
          reader.wake = undefined
          return resume(Effect.succeed(this.take(reader, maxBytes)))
        }
        if (this.ended) {
          reader.wake = undefined
          return resume(Effect.succeed([]))
        }
        reader.wake = attempt
      }
      attempt()
      return Effect.sync(() => {
        reader.wake = undefined
      })
    })
  }

  /** What `read` would give now, without waiting: empty when nothing new is held. */
  readNow(reader: Reader, maxBytes: number): ReadonlyArray<Chunk> {
    return this.readers.has(reader) && reader.cursor < this.end ? this.take(reader, maxBytes) : []
  }

  private take(reader: Reader, maxBytes: number): ReadonlyArray<Chunk> {
    const out: Array<Chunk> = []
    let index = this.indexOf(reader.cursor)
    let bytes = 0
    while (index < this.chunks.length && (out.length === 0 || bytes < maxBytes)) {
      const chunk = this.chunks[index++]!
      const skip = reader.cursor - chunk.offset
      const piece = skip === 0 ? chunk : {
        seq: chunk.seq,
        offset: reader.cursor,
        stream: chunk.stream,
        data: chunk.data.subarray(skip)
      }
      out.push(piece)
      bytes += piece.data.byteLength
      reader.cursor = chunk.offset + chunk.data.byteLength
    }
    this.evict()
    this.wakeWriters()
    return out
  }

  /** Index of the chunk holding `offset` (binary search: chunks are in offset order). */
  private indexOf(offset: number): number {
    let lo = this.head
    let hi = this.chunks.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.chunks[mid]!.offset <= offset) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  private evict(): void {
    let floor = this.end
    for (const reader of this.readers) floor = Math.min(floor, reader.cursor)
    while (this.held > this.capacity && this.head < this.chunks.length) {
      const chunk = this.chunks[this.head]!
      if (chunk.offset + chunk.data.byteLength > floor) break
      this.held -= chunk.data.byteLength
      this.chunks[this.head] = undefined as unknown as Chunk
      this.head++
    }
    // compact now and then so the array does not grow forever
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head)
      this.head = 0
    }
  }

  private untilRoom(): Effect.Effect<void> {
    if (this.held <= this.capacity) return Effect.void
    return Effect.async<void>((resume) => {
      const waiter = () => {
        if (this.held <= this.capacity || this.ended) resume(Effect.void)
        else this.spaceWaiters.push(waiter)
      }
      this.spaceWaiters.push(waiter)
      return Effect.sync(() => {
        this.spaceWaiters = this.spaceWaiters.filter((w) => w !== waiter)
      })
    })
  }

  private wakeReaders(): void {
    for (const reader of this.readers) reader.wake?.()
  }

  private wakeWriters(): void {
    const waiters = this.spaceWaiters
    this.spaceWaiters = []
    for (const waiter of waiters) waiter()
  }
}
