/**
 * heyod's extensions beyond the Heyo cloud routes, advertised in `GET /capabilities` `features`.
 * SDKs read this list once per client and fail with a typed `Unsupported` error when a call needs
 * an extension the server lacks. Each capability issue adds its names here.
 */
export const features: ReadonlyArray<string> = [
  /** `WSS /v1/sprites/{name}/exec` (non-TTY), addressed by sandbox id or name. */
  "exec-stream"
]
