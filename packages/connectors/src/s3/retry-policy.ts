/**
 * How the S3 store classifies failed requests and spaces its retries. Pure functions, unit-tested on their own.
 *
 * @internal
 */

/** What went wrong with one S3 request. */
export type FailureKind =
  /** 404 NoSuchKey / NotFound: no such object. */
  | 'not-found'
  /** 404 NoSuchBucket. */
  | 'no-such-bucket'
  /** 404 NoSuchUpload: the multipart upload is gone (aborted, or completed by an earlier attempt). */
  | 'no-such-upload'
  /** 412: a condition (If-None-Match, If-Match) did not hold. */
  | 'precondition'
  /** 409 ConditionalRequestConflict: a concurrent conditional write; the caller retries. */
  | 'conditional-conflict'
  /** 416: range starts past the end. */
  | 'invalid-range'
  /** 503 SlowDown, 429, and the throttling error names: the request was refused before being processed. */
  | 'throttled'
  /** Any other 5xx, 400 RequestTimeout, 409 OperationAborted: may succeed when repeated. */
  | 'server'
  /** No answer: connection refused, reset, DNS failure, socket timeout, truncated body. */
  | 'network'
  /** The credential provider found no usable credentials. */
  | 'credentials'
  /** Any other 4xx (403 AccessDenied, 400 InvalidArgument, 409 ObjectParentIsFile, ...): repeating will not help. */
  | 'client';

/** The classification of one failed request. */
export interface Failure {
  readonly kind: FailureKind;
  /** Whether repeating the request may succeed. */
  readonly retriable: boolean;
  /**
   * Whether the request may have taken effect although it failed (a 500 or a reset connection after the request was
   * sent), which matters for conditional writes: a later 412 may then be our own earlier attempt.
   */
  readonly ambiguous: boolean;
  readonly statusCode: number | undefined;
  /** S3 error code (`NoSuchKey`, `SlowDown`, ...) or network error code (`ECONNRESET`, ...). */
  readonly code: string | undefined;
  readonly requestId: string | undefined;
  /** One line saying what happened, without any header or credential. */
  readonly summary: string;
}

const throttlingCodes = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequests',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'ProvisionedThroughputExceededException',
]);

/** Errors of a connection that never carried the request: repeating cannot duplicate anything. */
const notSentCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']);

const networkCodes = new Set([
  ...notSentCodes,
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

const networkNames = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'NetworkingError', 'ECONNRESET']);

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  message?: unknown;
  cause?: unknown;
  $metadata?: { httpStatusCode?: unknown; requestId?: unknown };
}

/** Classifies an error thrown by `S3Client.send` (or by reading a response body). */
export function classifyS3Error(error: unknown): Failure {
  const shape: SdkErrorShape = typeof error === 'object' && error !== null ? (error) : {};
  const statusCode = typeof shape.$metadata?.httpStatusCode === 'number' ? shape.$metadata.httpStatusCode : undefined;
  const requestId = typeof shape.$metadata?.requestId === 'string' ? shape.$metadata.requestId : undefined;
  const name = typeof shape.name === 'string' ? shape.name : undefined;
  const s3Code = typeof shape.Code === 'string' ? shape.Code : name;
  const networkCode = networkCodeOf(error);
  const message = typeof shape.message === 'string' && shape.message.length > 0 ? shape.message : String(error);
  const make = (kind: FailureKind, retriable: boolean, ambiguous: boolean, code = s3Code): Failure => ({
    kind,
    retriable,
    ambiguous,
    statusCode,
    code,
    requestId,
    summary: statusCode === undefined ? `${code ?? 'error'}: ${message}` : `${statusCode} ${code ?? ''}: ${message}`.replace(' :', ':'),
  });

  if (statusCode === undefined || statusCode < 300) {
    // No HTTP answer (or a 200 whose body failed): a network failure, a credential problem, or a bug.
    if (name === 'CredentialsProviderError') return make('credentials', false, false);
    if (networkCode !== undefined) return make('network', true, !notSentCodes.has(networkCode), networkCode);
    if (name !== undefined && networkNames.has(name)) return make('network', true, true);
    return make('client', false, false);
  }
  if (statusCode === 404) {
    if (s3Code === 'NoSuchBucket') return make('no-such-bucket', false, false);
    if (s3Code === 'NoSuchUpload') return make('no-such-upload', false, false);
    return make('not-found', false, false);
  }
  if (statusCode === 412) return make('precondition', false, false);
  if (statusCode === 416) return make('invalid-range', false, false);
  if (statusCode === 429 || (s3Code !== undefined && throttlingCodes.has(s3Code))) return make('throttled', true, false);
  if (statusCode === 409) {
    if (s3Code === 'ConditionalRequestConflict') return make('conditional-conflict', true, false);
    if (s3Code === 'OperationAborted') return make('server', true, false);
    return make('client', false, false);
  }
  if (statusCode >= 500) return make('server', true, true);
  if (s3Code === 'RequestTimeout') return make('server', true, true);
  return make('client', false, false);
}

/** The `code` of the error or of one of its causes, when it is a network error code. */
function networkCodeOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && networkCodes.has(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Retry settings. */
export interface BackoffSettings {
  /** Delay cap of the first retry, in milliseconds; it doubles with each further retry. */
  readonly baseDelayMs: number;
  /** Upper bound of any one delay. */
  readonly maxDelayMs: number;
}

/**
 * Delay before retry number `retry` (1 = the first retry), with "full jitter": uniformly random in
 * `[0, min(maxDelayMs, baseDelayMs * 2^(retry - 1)))`, so that many clients throttled at once spread out instead of
 * retrying in lock step (see the AWS Architecture Blog, "Exponential Backoff And Jitter").
 */
export function backoffDelayMs(retry: number, settings: BackoffSettings, random: () => number = Math.random): number {
  const ceiling = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}
