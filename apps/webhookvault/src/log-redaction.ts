/**
 * URL parts the logger blanks out (the first group of each pattern): capture tokens, and the query of capture
 * listings, whose `q`, `header` and `path` filters are often a piece of a captured payload, and the stream
 * token of an SSE URL (a credential for five minutes).
 */
export const urlSecrets = [
  /^\/h\/([^/?]+)/,
  /^\/v1\/endpoints\/[^/?]+\/captures\?(.+)$/,
  /^\/v1\/endpoints\/[^/?]+\/stream\?(?:.*&)?token=([^&]+)/,
];
