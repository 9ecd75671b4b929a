// A fastify instance as both servers use it: TypeBox-typed routes, queries
// validated strictly (an unknown or malformed parameter is a 400 that says
// which, not silently dropped), and every error, 404 included, as JSON with a
// stable code.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { ApiError, ApiErrorCode, errorBody } from './errors.js';
import { SHARED_SCHEMAS } from './schemas.js';

export type ApiApp = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface AppOptions {
  /** Told about unexpected failures (500s); the request log stays off. */
  onInternalError?: (err: unknown, url: string) => void;
}

export function createApp(opts: AppOptions = {}): ApiApp {
  const app = Fastify({
    logger: false,
    // A health probe must not wait behind a slow client.
    connectionTimeout: 10_000,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  for (const s of SHARED_SCHEMAS) app.addSchema(s);

  app.setNotFoundHandler((req, reply) => {
    const err = new ApiError(ApiErrorCode.NotFound, `no route for ${req.method} ${req.url.split('?')[0]}`);
    void reply.code(404).send(errorBody(err));
  });

  app.setErrorHandler((err, req, reply) => {
    let api: ApiError;
    if (err instanceof ApiError) {
      api = err;
    } else if ((err as { validation?: unknown }).validation) {
      // fastify's message names the part and the field: "querystring/limit must be <= 5000".
      api = new ApiError(
        ApiErrorCode.BadRequest,
        String((err as Error).message).replace(/^querystring\//, 'query parameter '),
      );
    } else if (
      typeof (err as { statusCode?: unknown }).statusCode === 'number' &&
      (err as { statusCode: number }).statusCode < 500
    ) {
      api = new ApiError(ApiErrorCode.BadRequest, (err as Error).message);
    } else {
      opts.onInternalError?.(err, req.url);
      api = new ApiError(ApiErrorCode.Internal, (err as Error).message ?? String(err), { cause: err });
    }
    void reply.code(api.statusCode).send(errorBody(api));
  });
  return app;
}
