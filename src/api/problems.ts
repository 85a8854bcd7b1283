/** Error codes of the HTTP layer, beyond the command errors (src/engine/errors.ts). */
/** Each with its HTTP status. */
export const API_ERROR_CODES = {
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  payload_too_large: 413,
  unsupported_media_type: 415,
  malformed_json: 400,
  missing_idempotency_key: 400,
  internal_error: 500,
} as const;
