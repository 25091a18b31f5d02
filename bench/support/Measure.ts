/**
 * Timing helpers shared by the bench files: a monotonic clock in milliseconds, medians, rates.
 */
const MiB = 1024 * 1024

/** Milliseconds from a monotonic clock. */
export const clock = (): number => Number(process.hrtime.bigint()) / 1e6

export const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export const mibPerSecond = (bytes: number, millis: number): number => bytes / MiB / (millis / 1000)
