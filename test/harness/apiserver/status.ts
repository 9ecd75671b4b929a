// metav1.Status, the body the real apiserver sends with every failure (and
// with some deletes), and the one error type the test server throws. Clients
// branch on `code` and `reason` (a reflector relists on 410 Expired), so both
// are spelled exactly as the real server spells them.

import type { ResourceInfo } from './resources.js';

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { name?: string; group?: string; kind?: string };
  code: number;
}

/** The reason the real server gives for each code it uses. */
const REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export function failureStatus(
  code: number,
  message: string,
  opts: { reason?: string; details?: Status['details'] } = {},
): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason: opts.reason ?? REASONS[code] ?? 'Unknown',
    ...(opts.details !== undefined && { details: opts.details }),
    code,
  };
}

export function successStatus(details: Status['details']): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details, code: 200 };
}

/** A failed API operation; `status` is what the HTTP side sends back. */
export class ApiError extends Error {
  readonly status: Status;
  constructor(status: Status) {
    super(`${status.reason ?? 'Failure'} (${status.code}): ${status.message ?? ''}`);
    this.name = 'ApiError';
    this.status = status;
  }
  get code(): number {
    return this.status.code;
  }
  get reason(): string | undefined {
    return this.status.reason;
  }
}

export const badRequest = (message: string): ApiError => new ApiError(failureStatus(400, message));

// The real server names a resource "services" or "endpointslices.discovery.k8s.io".
const qualified = (info: ResourceInfo): string =>
  info.group === '' ? info.resource : `${info.resource}.${info.group}`;
const detailsOf = (info: ResourceInfo, name: string): Status['details'] => ({
  name,
  ...(info.group !== '' && { group: info.group }),
  kind: info.resource,
});

export const notFound = (info: ResourceInfo, name: string): ApiError =>
  new ApiError(failureStatus(404, `${qualified(info)} "${name}" not found`, { details: detailsOf(info, name) }));

export const alreadyExists = (info: ResourceInfo, name: string): ApiError =>
  new ApiError(
    failureStatus(409, `${qualified(info)} "${name}" already exists`, {
      reason: 'AlreadyExists',
      details: detailsOf(info, name),
    }),
  );

export const conflict = (info: ResourceInfo, name: string): ApiError =>
  new ApiError(
    failureStatus(
      409,
      `Operation cannot be fulfilled on ${qualified(info)} "${name}": the object has been modified; ` +
        'please apply your changes to the latest version and try again',
      { details: detailsOf(info, name) },
    ),
  );

export const deletedStatus = (info: ResourceInfo, name: string): Status => successStatus(detailsOf(info, name));

/** 410 Gone: the requested history has been compacted away. */
export const expired = (message: string): ApiError => new ApiError(failureStatus(410, message));
