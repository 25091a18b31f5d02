/**
 * What every command in a sandbox gets in its environment so that ordinary tools use heyod's
 * egress proxy: both cases, because curl reads only the lower-case `http_proxy` for http:// URLs
 * and other tools only the upper-case ones (reference/runtime.md §5). These are conveniences, not
 * the enforcement: the sandbox's network namespace has no other way out.
 */
export const proxyPort = 3128

export const proxyUrl = `http://127.0.0.1:${proxyPort}`

export const proxyEnv: Readonly<Record<string, string>> = {
  http_proxy: proxyUrl,
  https_proxy: proxyUrl,
  HTTP_PROXY: proxyUrl,
  HTTPS_PROXY: proxyUrl,
  no_proxy: "localhost,127.0.0.1",
  NO_PROXY: "localhost,127.0.0.1"
}
